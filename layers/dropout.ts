/**
 * Inverted dropout (torch nn.Dropout): keep with probability 1-p, scale by 1/(1-p).
 * Masks are drawn from the caller's seeded Rng; identity when not training or p = 0.
 */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { Ops } from '../ops/ops.js';
import type { RunOptions } from './base.js';

export function dropout<T>(o: Ops<T>, x: T, rate: number, opts: RunOptions): T {
  if (!opts.training || rate <= 0) return x;
  if (o.kind !== 'eager') throw new PolyglotError('dropout: training mode is only supported with eager ops');
  if (rate >= 1) return o.mul(x, o.scalar(0));
  if (!opts.rng) throw new PolyglotError('dropout: training mode needs an rng (forward option "rng")');
  const xt = x as unknown as tf.Tensor;
  const u = tf.randomUniform(xt.shape, 0, 1, 'float32', opts.rng.nextSeed());
  const keep = tf.cast(tf.greaterEqual(u, rate), 'float32');
  u.dispose();
  const scaled = o.mul(keep as unknown as T, o.scalar(1 / (1 - rate)));
  keep.dispose();
  return o.mul(x, scaled);
}

