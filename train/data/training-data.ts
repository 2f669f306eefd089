/** What a data pipeline hands the trainer: a resumable training source and held-out batches. */
import type { HostBatch } from '../batch.js';
import type { ChunkedBatchSource } from './sampler.js';

export interface TrainingData<Item = unknown> {
  train: ChunkedBatchSource<Item>;
  /** Number of training examples (lines). */
  trainSize: number;
  /** Held-out batches, in order (a fresh pass per call); undefined without eval data. */
  evalBatches?: () => Iterable<HostBatch>;
  evalSize: number;
  /** Closes the data files. */
  close(): void;
}

/** Options every pipeline shares. */
export interface CommonDataOptions {
  /** Training files (one example a line). */
  files: string[];
  /** Separate validation files (--eval-data); otherwise `evalFraction` of the training lines. */
  evalFiles?: string[];
  evalFraction?: number;
  batchSize: number;
  /** Eval batch size (default batchSize). */
  evalBatchSize?: number;
  seed: number;
  shuffle?: boolean;
  bucketByLength?: boolean;
  chunkBatches?: number;
  /** Longer examples: cut (default) or skip. */
  overLength?: 'truncate' | 'drop';
}
