/** What a data pipeline hands the trainer: a resumable training source and held-out batches. */
import { PolyglotError } from '../../core/errors.js';
import type { HostBatch } from '../batch.js';
import { LineCorpus } from './line-index.js';
import { ChunkedBatchSource, orderedBatches, type ChunkPlanner } from './sampler.js';
import { allIndices, heldOutSplit } from './split.js';

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

/**
 * The assembly every line-based pipeline shares: opens the training (and eval) files, refuses an
 * empty corpus, splits off held-out lines (or uses --eval-data), and builds the shuffled training
 * source and ordered eval batches over one planner per corpus. Options are validated by the caller.
 */
export async function openTrainingData<Item, O extends CommonDataOptions>(
  o: O,
  makePlanner: (corpus: LineCorpus, o: O) => ChunkPlanner<Item>,
  train: { bucketByLength: boolean | undefined },
): Promise<TrainingData<Item>> {
  const corpus = await LineCorpus.open(o.files);
  if (corpus.size === 0) {
    corpus.close();
    throw new PolyglotError(`${o.files.join(', ')}: expected training examples (non-blank lines), found none`);
  }
  const evalCorpus = o.evalFiles?.length ? await LineCorpus.open(o.evalFiles) : undefined;
  const split = evalCorpus ? { train: allIndices(corpus.size), eval: allIndices(evalCorpus.size) } : heldOutSplit(corpus.size, o.evalFraction ?? 0, o.seed);
  const planner = makePlanner(corpus, o);
  const evalPlanner = evalCorpus ? makePlanner(evalCorpus, o) : planner;
  const source = new ChunkedBatchSource(split.train, planner, { batchSize: o.batchSize, seed: o.seed, shuffle: o.shuffle, bucketByLength: train.bucketByLength, chunkBatches: o.chunkBatches });
  return {
    train: source,
    trainSize: split.train.length,
    evalSize: split.eval.length,
    evalBatches: split.eval.length ? () => orderedBatches(split.eval, evalPlanner, o.evalBatchSize ?? o.batchSize, { chunkBatches: o.chunkBatches }) : undefined,
    close: () => {
      corpus.close();
      evalCorpus?.close();
    },
  };
}
