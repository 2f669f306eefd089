/**
 * Gradient accumulation: sums micro-batch gradients, each scaled by the caller (the trainer
 * weights a micro-batch by its share of the step's target tokens, as HF Trainer >= 4.46 does),
 * in tf.Variables that live across micro-batches.
 */
import { tf } from '../core/tf.js';

export class GradAccumulator {
  private readonly acc = new Map<string, tf.Variable>();
  count = 0;

  add(grads: Record<string, tf.Tensor> | Map<string, tf.Tensor>, scale = 1): void {
    const entries = grads instanceof Map ? [...grads.entries()] : Object.entries(grads);
    for (const [k, g] of entries) {
      const a = this.acc.get(k);
      if (!a) {
        const init = tf.tidy(() => (scale === 1 ? g.clone() : tf.mul(g, tf.scalar(scale))));
        this.acc.set(k, tf.variable(init, false));
        init.dispose();
      } else {
        tf.tidy(() => {
          a.assign(tf.add(a, scale === 1 ? g : tf.mul(g, tf.scalar(scale))));
        });
      }
    }
    this.count += 1;
  }

  /** The accumulated gradients (owned by the accumulator until `reset`). */
  grads(): Map<string, tf.Tensor> {
    return new Map(this.acc);
  }

  reset(): void {
    for (const v of this.acc.values()) v.dispose();
    this.acc.clear();
    this.count = 0;
  }
}
