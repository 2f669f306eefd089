/**
 * Deterministic, resumable batching over a (large) set of example indices.
 *
 * Each epoch draws a permutation of the examples from the data Rng (seeded by the run's
 * seed), then walks it in chunks of `chunkSize` examples: a chunk is loaded (read + tokenized),
 * optionally sorted by length (length bucketing: rows of a batch have similar lengths), cut into
 * batches, and the batch order inside the chunk shuffled. Only one chunk is in memory.
 *
 * The position `{epoch, cursor, batchInChunk, rngState}` (rngState = the Rng at the start of
 * the epoch) is all it takes to continue exactly where a run stopped.
 */
import { PolyglotError } from '../../core/errors.js';
import { Rng, type RngState } from '../../core/random.js';
import type { BatchSource, HostBatch } from '../batch.js';

export interface DataPosition {
  epoch: number;
  /** Start of the current chunk in this epoch's permutation. */
  cursor: number;
  /** Batches of the current chunk already returned. */
  batchInChunk: number;
  rngState: RngState;
}

/** How a data set turns examples into batches. */
export interface ChunkPlanner<Item> {
  /** The examples at these indices, in order, as batchable items (may drop or regroup examples). */
  load(indices: Uint32Array): Item[];
  length(item: Item): number;
  collate(items: Item[]): HostBatch;
  /** One item per example, none dropped: batches per epoch is then known. */
  readonly oneToOne: boolean;
  /** Throws a PolyglotError naming file:line when example i cannot be used (read before training starts). */
  validate?(index: number): void;
}

export interface SamplerOptions {
  batchSize: number;
  seed: number;
  /** Shuffle examples and batch order each epoch (default true). */
  shuffle?: boolean;
  /** Sort each chunk by length before cutting batches (default true). */
  bucketByLength?: boolean;
  /** Batches per chunk (the bucketing window; default 64). */
  chunkBatches?: number;
}

/** In-place Fisher-Yates on a typed array with the run's Rng. */
export function permute(xs: Uint32Array, rng: Rng): Uint32Array {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = xs[i];
    xs[i] = xs[j];
    xs[j] = t;
  }
  return xs;
}

function chunkRng(seed: number, chunk: number): Rng {
  return new Rng((seed ^ Math.imul(chunk + 1, 0x9e3779b1)) >>> 0);
}

/** Splits items into batches (after a stable sort by length when bucketing). */
function cutBatches<Item>(items: Item[], planner: ChunkPlanner<Item>, batchSize: number, bucket: boolean): Item[][] {
  const order = items.map((it, i) => ({ it, i, len: bucket ? planner.length(it) : 0 }));
  if (bucket) order.sort((a, b) => a.len - b.len || a.i - b.i);
  const out: Item[][] = [];
  for (let s = 0; s < order.length; s += batchSize) out.push(order.slice(s, s + batchSize).map((o) => o.it));
  return out;
}

export class ChunkedBatchSource<Item> implements BatchSource {
  readonly batchSize: number;
  readonly chunkSize: number;
  private readonly shuffle: boolean;
  private readonly bucket: boolean;
  private rng: Rng;
  private epochStart: RngState;
  private perm!: Uint32Array;
  private chunkSeed = 0;
  private pos: { epoch: number; cursor: number; batchInChunk: number };
  private batches: Item[][] | undefined;
  private readonly watchers: ((batch: HostBatch) => void)[] = [];

  constructor(
    private readonly indices: Uint32Array,
    private readonly planner: ChunkPlanner<Item>,
    opts: SamplerOptions,
  ) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new PolyglotError(`data: batch size must be a positive integer, found ${opts.batchSize}`);
    if (indices.length === 0) throw new PolyglotError('data: no training examples');
    this.batchSize = opts.batchSize;
    this.chunkSize = opts.batchSize * (opts.chunkBatches ?? 64);
    this.shuffle = opts.shuffle ?? true;
    this.bucket = opts.bucketByLength ?? true;
    this.rng = new Rng(opts.seed);
    this.epochStart = this.rng.state();
    this.pos = { epoch: 0, cursor: 0, batchInChunk: 0 };
    this.startEpoch();
  }

  get epoch(): number {
    return this.pos.epoch;
  }

  get batchesPerEpoch(): number | undefined {
    return this.planner.oneToOne ? Math.ceil(this.indices.length / this.batchSize) : undefined;
  }

  /** Draws this epoch's permutation and chunk seed from the Rng (state saved first). */
  private startEpoch(): void {
    this.epochStart = this.rng.state();
    this.perm = this.indices.slice();
    if (this.shuffle) permute(this.perm, this.rng);
    this.chunkSeed = this.rng.nextUint32();
    this.batches = undefined;
  }

  private loadChunk(): Item[][] {
    const idx = this.perm.subarray(this.pos.cursor, this.pos.cursor + this.chunkSize);
    const rng = chunkRng(this.chunkSeed, this.pos.cursor / this.chunkSize);
    const items = this.planner.load(idx);
    // Without bucketing, items a chunk regroups (packed blocks) are shuffled one by one, like HF's RandomSampler over blocks.
    if (this.shuffle && !this.bucket) rng.shuffle(items);
    const batches = cutBatches(items, this.planner, this.batchSize, this.bucket);
    if (this.shuffle) rng.shuffle(batches);
    return batches;
  }

  next(): HostBatch {
    let emptyChunks = 0;
    for (;;) {
      this.batches ??= this.loadChunk();
      if (this.pos.batchInChunk < this.batches.length) {
        const items = this.batches[this.pos.batchInChunk++];
        const batch = this.planner.collate(items);
        for (const w of this.watchers) w(batch);
        return batch;
      }
      if (this.batches.length === 0 && ++emptyChunks > Math.ceil(this.indices.length / this.chunkSize) + 1) {
        throw new PolyglotError(`data: no example of ${this.indices.length} fits the length limits`);
      }
      this.pos.cursor += this.chunkSize;
      this.pos.batchInChunk = 0;
      this.batches = undefined;
      if (this.pos.cursor >= this.indices.length) {
        this.pos.epoch++;
        this.pos.cursor = 0;
        this.startEpoch();
      }
    }
  }

  /** Calls `watcher` with every batch `next` returns (e.g. to warn about lengths). */
  watch(watcher: (batch: HostBatch) => void): void {
    this.watchers.push(watcher);
  }

  state(): DataPosition {
    return { ...this.pos, rngState: [...this.epochStart] as RngState };
  }

  restore(state: unknown): void {
    const s = state as Partial<DataPosition> | null;
    const okInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
    if (!s || !okInt(s.epoch) || !okInt(s.cursor) || !okInt(s.batchInChunk) || !Array.isArray(s.rngState) || s.rngState.length !== 4) {
      throw new PolyglotError(`data position: expected {epoch, cursor, batchInChunk, rngState: [4 numbers]}, found ${JSON.stringify(state)?.slice(0, 120)}`);
    }
    if (s.cursor! % this.chunkSize !== 0 || s.cursor! >= this.indices.length) {
      throw new PolyglotError(`data position: cursor ${s.cursor} does not match this data (${this.indices.length} examples, chunks of ${this.chunkSize}); was the batch size or data changed?`);
    }
    this.rng = new Rng(s.rngState as RngState);
    this.startEpoch();
    this.pos = { epoch: s.epoch!, cursor: s.cursor!, batchInChunk: s.batchInChunk! };
  }
}

/** Batches in corpus order, no shuffling (evaluation); a fresh pass per call. */
export function* orderedBatches<Item>(indices: Uint32Array, planner: ChunkPlanner<Item>, batchSize: number, opts: { bucketByLength?: boolean; chunkBatches?: number } = {}): Generator<HostBatch> {
  const chunkSize = batchSize * (opts.chunkBatches ?? 64);
  for (let c = 0; c < indices.length; c += chunkSize) {
    for (const items of cutBatches(planner.load(indices.subarray(c, c + chunkSize)), planner, batchSize, opts.bucketByLength ?? false)) {
      yield planner.collate(items);
    }
  }
}
