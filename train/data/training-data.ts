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
  /** The first `limit` held-out lines (for chrF / BLEU of decoded translations), with their file:line. */
  heldOutLines(limit: number): { line: string; where: string }[];
  /** What the pipeline assumed or skipped, for the user (e.g. default languages). */
  notes: string[];
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
 * empty corpus, validates every line before anything trains (the first bad line, in file order,
 * is the error), splits off held-out lines (or uses --eval-data), and builds the shuffled training
 * source and ordered eval batches over one planner per corpus. Options are validated by the caller.
 */
export async function openTrainingData<Item, O extends CommonDataOptions>(
  o: O,
  makePlanner: (corpus: LineCorpus, o: O) => ChunkPlanner<Item>,
  train: { bucketByLength: boolean | undefined },
): Promise<TrainingData<Item>> {
  const corpus = await LineCorpus.open(o.files);
  let evalCorpus: LineCorpus | undefined;
  const close = () => {
    corpus.close();
    evalCorpus?.close();
  };
  try {
    if (corpus.size === 0) throw new PolyglotError(`${o.files.join(', ')}: expected training examples (non-blank lines), found none`);
    evalCorpus = o.evalFiles?.length ? await LineCorpus.open(o.evalFiles) : undefined;
    if (evalCorpus && evalCorpus.size === 0) throw new PolyglotError(`${o.evalFiles!.join(', ')}: expected held-out examples (non-blank lines), found none`);
    const planner = makePlanner(corpus, o);
    const evalPlanner = evalCorpus ? makePlanner(evalCorpus, o) : planner;
    validateAll(corpus, planner);
    if (evalCorpus) validateAll(evalCorpus, evalPlanner);
    const notes: string[] = [];
    let fraction = o.evalFraction ?? 0;
    if (!evalCorpus && fraction > 0 && corpus.size < 2) {
      notes.push(`${o.files.join(', ')}: ${corpus.size} example, nothing held out for evaluation (give --eval-data for eval loss)`);
      fraction = 0;
    }
    const split = evalCorpus ? { train: allIndices(corpus.size), eval: allIndices(evalCorpus.size) } : heldOutSplit(corpus.size, fraction, o.seed);
    const source = new ChunkedBatchSource(split.train, planner, { batchSize: o.batchSize, seed: o.seed, shuffle: o.shuffle, bucketByLength: train.bucketByLength, chunkBatches: o.chunkBatches });
    const heldOut = evalCorpus ?? corpus;
    return {
      train: source,
      trainSize: split.train.length,
      evalSize: split.eval.length,
      evalBatches: split.eval.length ? () => orderedBatches(split.eval, evalPlanner, o.evalBatchSize ?? o.batchSize, { chunkBatches: o.chunkBatches }) : undefined,
      heldOutLines: (limit) => Array.from(split.eval.subarray(0, limit), (i) => ({ line: heldOut.line(i), where: heldOut.where(i) })),
      notes,
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}

/** Every example checked in file order, so the error names the first bad line. */
function validateAll<Item>(corpus: LineCorpus, planner: ChunkPlanner<Item>): void {
  if (!planner.validate) return;
  for (let i = 0; i < corpus.size; i++) planner.validate(i);
}
