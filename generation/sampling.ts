/**
 * Drawing token ids from probabilities with the project's seeded Rng (core/random.ts), so the
 * same seed gives the same tokens. (torch.multinomial's stream cannot be reproduced; only the
 * distribution is HF's.)
 */
import { PolyglotError } from '../core/errors.js';
import type { Rng } from '../core/random.js';

/** One draw from unnormalised non-negative weights (inverse CDF on a uniform). */
export function sampleOne(weights: Float64Array, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  if (!(total > 0)) throw new PolyglotError('generate: every token has probability 0 after the logits processors (nothing to sample)');
  const u = rng.uniform() * total;
  let cum = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (w <= 0) continue;
    cum += w;
    last = i;
    if (u < cum) return i;
  }
  return last; // rounding at the very top of the range
}

/**
 * `n` draws without replacement (torch.multinomial(probs, n, replacement=False)): each draw
 * removes the chosen category. Fails like torch when fewer than n categories have weight > 0.
 */
export function sampleWithoutReplacement(weights: Float64Array, n: number, rng: Rng): number[] {
  const w = Float64Array.from(weights);
  let positive = 0;
  for (let i = 0; i < w.length; i++) if (w[i] > 0) positive++;
  if (positive < n) throw new PolyglotError(`generate: beam sampling needs ${n} candidate tokens with probability > 0, found ${positive} (raise topK / topP)`);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const i = sampleOne(w, rng);
    out.push(i);
    w[i] = 0;
  }
  return out;
}
