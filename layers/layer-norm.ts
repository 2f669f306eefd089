/** nn.LayerNorm over the last axis. XGLM and NLLB-MoE always use torch's default eps 1e-5 (no config field). */
import { tf } from '../core/tf.js';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import { nativeLayerNorm } from '../backend/native-layer-norm.js';
import { PolyglotLayer } from './base.js';

export interface LayerNormConfig {
  dim: number;
  /** HF module name, e.g. "model.layers.0.self_attn_layer_norm". */
  hfName: string;
  eps?: number;
}

export class LayerNorm extends PolyglotLayer {
  readonly cfg: Required<LayerNormConfig>;
  readonly gamma: tf.LayerVariable;
  readonly beta: tf.LayerVariable;

  constructor(cfg: LayerNormConfig) {
    super({});
    this.cfg = { eps: 1e-5, ...cfg };
    this.gamma = this.addHfWeight(`${cfg.hfName}.weight`, [cfg.dim], false, 'ones');
    this.beta = this.addHfWeight(`${cfg.hfName}.bias`, [cfg.dim], false, 'zeros');
  }

  run<T>(o: Ops<T>, x: T): T {
    if ((o as unknown) === eagerOps) {
      // Eager on the native path: one fused kernel instead of nine tfjs ops (backend/native-layer-norm.ts).
      const fused = nativeLayerNorm(x as tf.Tensor, this.gamma.read(), this.beta.read(), this.cfg.eps);
      if (fused !== undefined) return fused as T;
    }
    const axis = o.rank(x) - 1;
    const mean = o.mean(x, axis, true);
    const centered = o.sub(x, mean);
    // Biased variance, as torch's layer_norm.
    const variance = o.mean(o.square(centered), axis, true);
    const normed = o.mul(centered, o.rsqrt(o.add(variance, o.scalar(this.cfg.eps))));
    return o.add(o.mul(normed, o.weight(`${this.cfg.hfName}.weight`, this.gamma.read())), o.weight(`${this.cfg.hfName}.bias`, this.beta.read()));
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.run(eagerOps, Array.isArray(inputs) ? inputs[0] : inputs));
  }

  override computeOutputShape(inputShape: tf.Shape): tf.Shape {
    return inputShape;
  }

}
