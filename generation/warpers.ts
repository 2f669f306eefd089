/**
 * Sampling warpers with Hugging Face semantics (TemperatureLogitsWarper, TopKLogitsWarper,
 * TopPLogitsWarper), in place on one row of scores. Removed tokens get -inf.
 */
import { PolyglotError } from '../core/errors.js';
import type { LogitsProcessor } from './processors.js';

/** scores / temperature (HF requires a strictly positive temperature). */
export function temperature(t: number): LogitsProcessor {
  if (!(t > 0) || !Number.isFinite(t)) throw new PolyglotError(`generate: temperature must be a finite number > 0, found ${t}`);
  return (scores) => {
    for (let i = 0; i < scores.length; i++) scores[i] = scores[i] / t;
  };
}

/**
 * Keeps every token whose score is >= the k-th largest score (ties at the threshold survive, as
 * HF's `scores < topk(...)[-1]`), k = max(topK, minTokensToKeep) capped at the vocabulary size.
 */
export function topK(k: number, minTokensToKeep = 1): LogitsProcessor {
  if (!Number.isInteger(k) || k <= 0) throw new PolyglotError(`generate: topK must be a positive integer, found ${k}`);
  const kk = Math.max(k, minTokensToKeep);
  return (scores) => {
    const n = Math.min(kk, scores.length);
    if (n >= scores.length) return;
    const threshold = kthLargest(scores, n);
    for (let i = 0; i < scores.length; i++) if (scores[i] < threshold) scores[i] = -Infinity;
  };
}

/** The n-th largest value (1-based) of a row, by quickselect on a copy. */
function kthLargest(row: Float32Array, n: number): number {
  const a = Float32Array.from(row);
  let lo = 0;
  let hi = a.length - 1;
  const target = n - 1; // position in descending order
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return a[target];
  }
  return a[target];
}

/**
 * HF TopPLogitsWarper: sort ascending, cumulative softmax; tokens whose cumulative probability is
 * <= 1 - topP are removed, except the `minTokensToKeep` most likely ones. So the kept set is the
 * smallest set of most likely tokens whose probability mass reaches topP (more precisely: a token
 * survives when the mass strictly above it is < topP). Ties are ordered by token id (HF's
 * torch.sort is unstable there). topP = 1 keeps everything.
 */
export function topP(p: number, minTokensToKeep = 1): LogitsProcessor {
  if (!(p >= 0 && p <= 1)) throw new PolyglotError(`generate: topP must be in [0, 1], found ${p}`);
  return (scores) => {
    const V = scores.length;
    const order = new Int32Array(V);
    for (let i = 0; i < V; i++) order[i] = i;
    // ascending by score, ties by id
    order.sort((a, b) => (scores[a] - scores[b]) || a - b);
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (scores[i] > max) max = scores[i];
    if (max === -Infinity) return;
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(scores[i] - max);
    let cum = 0;
    const limit = 1 - p;
    const keepFrom = V - minTokensToKeep; // sorted positions >= keepFrom are always kept
    for (let r = 0; r < V; r++) {
      const id = order[r];
      cum += Math.exp(scores[id] - max) / sum;
      if (r >= keepFrom) break;
      if (cum <= limit) scores[id] = -Infinity;
      else break; // cumulative sums only grow: nothing later is removed
    }
  };
}
