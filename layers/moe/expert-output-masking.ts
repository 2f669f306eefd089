/**
 * Expert-output masking (`moe_token_dropout = p`) applied to one expert's output rows
 * `[tokens routed to e, d_model]` (docs/NLLB-MOE.md sections 3 and 6).
 *
 * - eval: multiply by (1 - p), exactly as HF (deterministic).
 * - training, mode "token" (default): Dropout2d-style as the NLLB-MoE config documents it: a routed
 *   token's whole expert-output vector is zeroed with probability p; survivors are NOT rescaled,
 *   so eval's (1 - p) is the training expectation.
 * - training, mode "hf": HF's code, `nn.Dropout(p)` on the expert's output matrix: every element
 *   dropped independently, survivors scaled by 1 / (1 - p).
 * A token routed to two experts gets two independent masks in both modes.
 */
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import type { Rng } from '../../core/random.js';
import type { Ops } from '../../ops/ops.js';

export type ExpertOutputMaskingMode = 'token' | 'hf';

export interface ExpertMaskingOptions {
  training: boolean;
  rng?: Rng;
  mode?: ExpertOutputMaskingMode;
}

export function maskExpertOutput<T>(o: Ops<T>, h: T, p: number, opts: ExpertMaskingOptions): T {
  if (!(p > 0)) return h;
  if (!opts.training) return o.mul(h, o.scalar(1 - p));
  const mode = opts.mode ?? 'token';
  if (mode !== 'token' && mode !== 'hf') {
    throw new PolyglotError(`expertOutputMasking: expected "token" or "hf", found ${JSON.stringify(mode)}`);
  }
  if (o.kind !== 'eager') throw new PolyglotError('moe_token_dropout: training mode is only supported with eager ops');
  if (!opts.rng) throw new PolyglotError('moe_token_dropout: training mode needs an rng (forward option "rng")');
  const [n, d] = o.shape(h) as number[];
  if (mode === 'token') {
    // One Bernoulli(1-p) draw per routed token (row), from the host Rng: identical on every backend.
    const keep = new Float32Array(n);
    for (let i = 0; i < n; i++) keep[i] = opts.rng.uniform() >= p ? 1 : 0;
    return o.mul(h, o.constant(keep, [n, 1]));
  }
  const mask = tf.tidy(() => {
    const u = tf.randomUniform([n, d], 0, 1, 'float32', opts.rng!.nextSeed());
    return tf.mul(tf.cast(tf.greaterEqual(u, p), 'float32'), 1 / (1 - p));
  });
  // The mask joins the caller's tidy scope through the op below; dispose our handle.
  const out = o.mul(h, mask as unknown as T);
  mask.dispose();
  return out;
}
