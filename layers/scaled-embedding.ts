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
  readonly embeddings: tf.LayerVariable;
  /** Set by `releaseTable`: lookups read native rows, the float32 table is gone. */
  private nativeRows?: TableRows;

  constructor(cfg: ScaledEmbeddingConfig) {
    super({});
    this.cfg = { paddingIdx: null, scale: 1, ...cfg };
    this.embeddings = this.addHfWeight(`${cfg.hfName}.weight`, [cfg.vocabSize, cfg.dim], false);
    embeddingOfTable.set(this.embeddings, this);
  }

  get weightName(): string {
    return `${this.cfg.hfName}.weight`;
  }

  /** The [vocab, d] table as an Ops value (also the tied lm_head). */
  table<T>(o: Ops<T>): T {
    if (this.nativeRows !== undefined) {
      throw new PolyglotError(`${this.weightName}: the float32 table was released for inference (its rows are read from the native int8 / 16-bit copy); load the model again to export, evaluate or train it`);
    }
    return o.weight(this.weightName, this.embeddings.read());
  }

  /**
   * Inference with int8 / 16-bit weights: the tied output projection already keeps the table
   * [vocab, d] in native memory, one row a token; lookups read those rows and the float32
   * table leaves the wasm heap (XGLM-564M: 1.05 GB). Eager only from then on; the parameter is
   * no longer listed.
   */
  releaseTable(rows: TableRows): void {
    this.nativeRows = rows;
    this.dropHfWeight(this.embeddings);
  }

  get tableReleased(): boolean {
    return this.nativeRows !== undefined;
  }

  /** ids [...] int32 -> [..., d] float32. */
  run<T>(o: Ops<T>, ids: T): T {
    const ids32 = o.dtype(ids) === 'int32' ? ids : o.cast(ids, 'int32');
    if (this.nativeRows !== undefined && o.kind === 'eager') {
      return this.nativeRows(ids32 as unknown as tf.Tensor, this.cfg.scale) as unknown as T;
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
