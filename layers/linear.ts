/** nn.Linear: y = x W + b with W stored [in, out] (HF's [out, in] transposed at load/export). */
import { tf } from '../core/tf.js';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import { PolyglotLayer } from './base.js';

export interface LinearConfig {
  inFeatures: number;
  outFeatures: number;
  /** HF module name, e.g. "model.layers.0.self_attn.q_proj" (parameters: <name>.weight, <name>.bias). */
  hfName: string;
  bias?: boolean;
}

/**
 * Eager replacements of x·W keyed by a Linear's kernel variable: int8 weights multiplied
 * by the native kernel (layers/weight-precision.ts). Graph export keeps the float kernel.
 */
export const linearProducts = new WeakMap<tf.LayerVariable, (x: tf.Tensor) => tf.Tensor>();

export class Linear extends PolyglotLayer {
  readonly cfg: Required<LinearConfig>;
  readonly kernel: tf.LayerVariable;
  readonly bias?: tf.LayerVariable;

  constructor(cfg: LinearConfig) {
    super({});
    this.cfg = { bias: true, ...cfg };
    this.kernel = this.addHfWeight(`${cfg.hfName}.weight`, [cfg.inFeatures, cfg.outFeatures], true);
    if (this.cfg.bias) this.bias = this.addHfWeight(`${cfg.hfName}.bias`, [cfg.outFeatures], false);
  }

  run<T>(o: Ops<T>, x: T): T {
    const product = (o as unknown) === eagerOps ? linearProducts.get(this.kernel) : undefined;
    const y = product !== undefined ? (product(x as tf.Tensor) as T) : o.matMul(x, o.weight(`${this.cfg.hfName}.weight`, this.kernel.read()));
    return this.bias ? o.add(y, o.weight(`${this.cfg.hfName}.bias`, this.bias.read())) : y;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.run(eagerOps, Array.isArray(inputs) ? inputs[0] : inputs));
  }

  override computeOutputShape(inputShape: tf.Shape): tf.Shape {
    return [...inputShape.slice(0, -1), this.cfg.outFeatures];
  }

}
