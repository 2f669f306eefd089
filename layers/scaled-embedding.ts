/**
 * nn.Embedding(vocab, d, padding_idx) times an optional scale (XGLM / NLLB: sqrt(d_model)
 * when scale_embedding). Weight stays [vocab, d] (HF layout). As torch's padding_idx,
 * lookups of the padding id give its row no gradient (the row is still read as is).
 */
import { linearProducts } from './linear.js';
import { tf } from '../core/tf.js';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import { PolyglotLayer } from './base.js';
import { PolyglotError } from '../core/errors.js';

/** Where the rows come from once the float table is released: ids int32 -> rows * multiplier. */
export type TableRows = (ids: tf.Tensor, multiplier: number) => tf.Tensor;

/** The embedding layer a table variable belongs to (layers/weight-precision.ts releases tied tables). */
export const embeddingOfTable = new WeakMap<tf.LayerVariable, ScaledEmbedding>();

/**
 * A table held only in native memory (models/pretrained.ts, inference loads with int8 / 16-bit
 * weights): its rows for lookups, and, when the table is the tied output projection, that
 * product (set by the loader once it knows the model ties it).
 */
export interface NativeTable {
  rows: TableRows;
  project?: (hidden: tf.Tensor) => tf.Tensor;
}

/** hfName of the weight, [vocab, dim] -> a native table, or undefined for a float32 variable. */
export type NativeTableProvider = (weightName: string, vocabSize: number, dim: number) => NativeTable | undefined;

let activeTables: NativeTableProvider | undefined;

/** Runs `build` (which constructs layers) with `provider` choosing native tables. */
export function withNativeTables<R>(provider: NativeTableProvider, build: () => R): R {
  const previous = activeTables;
  activeTables = provider;
  try {
    return build();
  } finally {
    activeTables = previous;
  }
}

export interface ScaledEmbeddingConfig {
  vocabSize: number;
  dim: number;
  /** HF module name, e.g. "model.embed_tokens" (parameter: <name>.weight). */
  hfName: string;
  paddingIdx?: number | null;
  /** Multiplier of the looked-up rows (sqrt(d_model) or 1). */
  scale?: number;
}

// Identity forward, zero gradient: used to keep padding lookups out of the gradient.
const detach = tf.customGrad(((x: tf.Tensor) => ({ value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) })) as unknown as Parameters<typeof tf.customGrad>[0]);

export class ScaledEmbedding extends PolyglotLayer {
  readonly cfg: Required<ScaledEmbeddingConfig>;
  private variable?: tf.LayerVariable;
  /** Set when the table lives in native memory (loaded so, or `releaseTable`): no float32 table. */
  private native?: NativeTable;

  constructor(cfg: ScaledEmbeddingConfig) {
    super({});
    this.cfg = { paddingIdx: null, scale: 1, ...cfg };
    this.native = activeTables?.(`${cfg.hfName}.weight`, cfg.vocabSize, cfg.dim);
    if (this.native === undefined) {
      this.variable = this.addHfWeight(`${cfg.hfName}.weight`, [cfg.vocabSize, cfg.dim], false);
      embeddingOfTable.set(this.variable, this);
    }
  }

  /** The float32 table [vocab, d] (an error once it lives in native memory only). */
  get embeddings(): tf.LayerVariable {
    if (this.variable === undefined) throw this.releasedError();
    return this.variable;
  }

  private releasedError(): PolyglotError {
    return new PolyglotError(`${this.weightName}: the float32 table was released for inference (its rows are read from the native int8 / 16-bit copy); load the model again to export, evaluate or train it`);
  }

  get weightName(): string {
    return `${this.cfg.hfName}.weight`;
  }

  /** The [vocab, d] table as an Ops value (also the tied lm_head). */
  table<T>(o: Ops<T>): T {
    return o.weight(this.weightName, this.embeddings.read());
  }

  /**
   * Inference with int8 / 16-bit weights: the tied output projection already keeps the table
   * [vocab, d] in native memory, one row a token; lookups read those rows and the float32
   * table leaves the wasm heap (XGLM-564M: 1.05 GB). Eager only from then on; the parameter is
   * no longer listed.
   */
  releaseTable(table: NativeTable): void {
    if (this.variable === undefined) return;
    this.native = table;
    this.dropHfWeight(this.variable);
    this.variable = undefined;
  }

  get tableReleased(): boolean {
    return this.native !== undefined;
  }

  /** The native table's tied output projection (the loader sets it when the model ties the table). */
  setNativeProjection(project: (hidden: tf.Tensor) => tf.Tensor): void {
    if (this.native === undefined) throw new Error(`${this.weightName}: not a native table`);
    this.native.project = project;
  }

  /** ids [...] int32 -> [..., d] float32. */
  run<T>(o: Ops<T>, ids: T): T {
    const ids32 = o.dtype(ids) === 'int32' ? ids : o.cast(ids, 'int32');
    if (this.native !== undefined) {
      if (o.kind !== 'eager') throw this.releasedError();
      return this.native.rows(ids32 as unknown as tf.Tensor, this.cfg.scale) as unknown as T;
    }
    let rows = o.gather(this.table(o), ids32, 0);
    const pad = this.cfg.paddingIdx;
    if (pad !== null && o.kind === 'eager') {
      // torch padding_idx: no gradient flows into the padding row from its lookups.
      const isPad = o.expandDims(o.equal(ids32, o.scalar(pad, 'int32')), o.rank(ids32));
      rows = o.where(isPad, detach(rows as unknown as tf.Tensor) as unknown as T, rows);
    }
    return this.cfg.scale === 1 ? rows : o.mul(rows, o.scalar(this.cfg.scale));
  }

  /**
   * Tied output projection: hidden [..., d] -> logits [..., vocab] = hidden E^T.
   * Computed as (E hidden^T)^T so the big table is the left operand of a plain product
   * (the fast, non-transposed path on wasm, and no transposed copy of E).
   */
  project<T>(o: Ops<T>, hidden: T): T {
    // int8 weights (layers/weight-precision.ts) replace the eager product; the lookup stays float.
    if (this.native !== undefined) {
      if ((o as unknown) !== eagerOps || this.native.project === undefined) throw this.releasedError();
      return this.native.project(hidden as tf.Tensor) as T;
    }
    const product = (o as unknown) === eagerOps ? linearProducts.get(this.embeddings) : undefined;
    if (product !== undefined) return product(hidden as tf.Tensor) as T;
    const shape = o.shape(hidden);
    const lead = shape.slice(0, -1);
    const flat = o.reshape(hidden, [-1, this.cfg.dim]);
    const logitsT = o.matMul(this.table(o), o.transpose(flat, [1, 0]));
    return o.reshape(o.transpose(logitsT, [1, 0]), [...lead, this.cfg.vocabSize]);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.run(eagerOps, Array.isArray(inputs) ? inputs[0] : inputs));
  }

  override computeOutputShape(inputShape: tf.Shape): tf.Shape {
    return [...inputShape, this.cfg.dim];
  }

}
