/**
 * A LoRA adapter on one Linear (peft tuners/lora/layer.py; docs/LORA.md):
 *   y = W x + b + scaling * B(A(dropout(x))),  scaling = lora_alpha / r (rsLoRA: lora_alpha / sqrt(r)).
 * A (peft `lora_A.weight`, [r, in]) starts Kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in));
 * B (`lora_B.weight`, [out, r]) starts at zero, so a fresh adapter leaves the model's output unchanged.
 * Stored in the tfjs layout like Linear kernels: A as [in, r], B as [r, out] (both transposed from peft's).
 */
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import type { Ops } from '../ops/ops.js';
import { PolyglotLayer } from './base.js';
import { dropout } from './dropout.js';
import type { Linear, LinearAdapter } from './linear.js';
import { PolyglotError } from '../core/errors.js';

export interface LoraAdapterConfig {
  /** HF module path of the Linear, e.g. "model.layers.0.self_attn.q_proj". */
  module: string;
  inFeatures: number;
  outFeatures: number;
  r: number;
  scaling: number;
  dropout: number;
  /** Position among the model's adapters: offsets the dropout seed so adapters draw different masks. */
  index: number;
}

/**
 * Dropout mode of the current forward. Masks come from `seed` + the adapter's index, not from a
 * running Rng, so recomputing a block in backward (gradient checkpointing) draws the same masks.
 */
export interface LoraDropoutContext {
  training: boolean;
  seed?: number;
}

export class LoraAdapter extends PolyglotLayer implements LinearAdapter {
  readonly a: tf.LayerVariable;
  readonly b: tf.LayerVariable;
  /** Set by the LoRA model around computeLoss. */
  context: LoraDropoutContext = { training: false };

  constructor(readonly cfg: LoraAdapterConfig) {
    super({});
    this.a = this.addHfWeight(`${cfg.module}.lora_A.weight`, [cfg.inFeatures, cfg.r], true);
    this.b = this.addHfWeight(`${cfg.module}.lora_B.weight`, [cfg.r, cfg.outFeatures], true);
  }

  /** peft's default init: A ~ kaiming_uniform_(a=sqrt(5)) over fan_in = in_features, B = 0. */
  initPeft(rng: Rng): void {
    const bound = 1 / Math.sqrt(this.cfg.inFeatures);
    tf.tidy(() => {
      this.a.write(tf.randomUniform([this.cfg.inFeatures, this.cfg.r], -bound, bound, 'float32', rng.nextSeed()));
      this.b.write(tf.zeros([this.cfg.r, this.cfg.outFeatures]));
    });
  }

  delta<T>(o: Ops<T>, x: T): T {
    const { module } = this.cfg;
    const { training, seed } = this.context;
    const h = training && seed !== undefined ? dropout(o, x, this.cfg.dropout, { training, rng: new Rng(seed + 7919 * this.cfg.index) }) : x;
    const low = o.matMul(h, o.weight(`${module}.lora_A.weight`, this.a.read()));
    return o.mul(o.matMul(low, o.weight(`${module}.lora_B.weight`, this.b.read())), o.scalar(this.cfg.scaling));
  }

  /** scaling * A B in the Linear kernel's [in, out] layout (what merging adds to W). */
  deltaKernel(): tf.Tensor2D {
    return tf.tidy(() => tf.mul(tf.matMul(this.a.read(), this.b.read()), tf.scalar(this.cfg.scaling)));
  }

  /** Folds the adapter into `linear`'s kernel: W' = W + scaling * A B. */
  mergeInto(linear: Linear): void {
    if (linear.frozenWeight !== undefined) {
      const kind = linear.w16?.dtype ?? 'int8';
      throw new PolyglotError(`${this.cfg.module}: cannot merge an adapter into ${kind} weights (merge first, then quantize; or keep the adapter unmerged)`);
    }
    tf.tidy(() => {
      linear.kernel.write(tf.add(linear.kernel.read(), this.deltaKernel()));
    });
  }
}
