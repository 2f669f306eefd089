/**
 * Global-norm gradient clipping with torch.nn.utils.clip_grad_norm_ semantics (norm_type 2):
 * total = ||(||g_1||, ..., ||g_n||)||_2, coef = min(max_norm / (total + 1e-6), 1), and
 * every gradient is multiplied by coef (torch multiplies even when coef is 1).
 */
import { tf } from '../core/tf.js';

export interface ClipResult {
  /** The clipped gradients (new tensors; the inputs are not disposed). */
  grads: Map<string, tf.Tensor>;
  /** The global norm before clipping (what clip_grad_norm_ returns). */
  totalNorm: number;
}

/** L2 norm over all gradients together. */
export function globalNorm(grads: Iterable<tf.Tensor>): number {
  const list = [...grads];
  if (list.length === 0) return 0;
  // One tidy per gradient: only one gradient-sized temporary exists at a time (memory peak).
  // sqrt(sum(g * g)), the same reduction tf.norm runs, but tf.norm squares with Pow, which
  // tfjs-backend-wasm evaluates with powf per element (most of a training step's non-matmul time).
  const norms = list.map((g) => tf.tidy(() => tf.sqrt(tf.sum(tf.square(g)))));
  const t = tf.tidy(() => tf.norm(tf.stack(norms)));
  const n = t.dataSync()[0];
  tf.dispose([t, ...norms]);
  return n;
}

/**
 * clip_grad_norm_'s factor without touching the gradients: min(max_norm / (total + 1e-6), 1).
 * The trainer passes it to AdamW.step as gradScale, so no second copy of every gradient exists.
 */
export function clipCoefficient(grads: Iterable<tf.Tensor>, maxNorm: number): { coef: number; totalNorm: number } {
  const totalNorm = globalNorm(grads);
  return { coef: Math.min(maxNorm / (totalNorm + 1e-6), 1), totalNorm };
}

export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): ClipResult {
  const totalNorm = globalNorm(grads.values());
  const coef = Math.min(maxNorm / (totalNorm + 1e-6), 1);
  const out = new Map<string, tf.Tensor>();
  for (const [k, g] of grads) out.set(k, tf.tidy(() => tf.mul(g, tf.scalar(coef))));
  return { grads: out, totalNorm };
}
