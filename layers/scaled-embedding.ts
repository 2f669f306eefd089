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

  constructor(cfg: ScaledEmbeddingConfig) {
    super({});
    this.cfg = { paddingIdx: null, scale: 1, ...cfg };
    this.embeddings = this.addHfWeight(`${cfg.hfName}.weight`, [cfg.vocabSize, cfg.dim], false);
  }

  get weightName(): string {
    return `${this.cfg.hfName}.weight`;
  }

  /** The [vocab, d] table as an Ops value (also the tied lm_head). */
  table<T>(o: Ops<T>): T {
    return o.weight(this.weightName, this.embeddings.read());
  }

  /** ids [...] int32 -> [..., d] float32. */
  run<T>(o: Ops<T>, ids: T): T {
    const ids32 = o.dtype(ids) === 'int32' ? ids : o.cast(ids, 'int32');
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
