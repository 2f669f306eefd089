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
 * <= 1 - topP are removed, except the `minTokensToKeep` most likely ones. Equivalently (used here,
 * so that only the head of a 256k vocabulary is sorted): walking down from the most likely token,
 * a token survives while the probability mass strictly above it is < topP. Ties are ordered as a
 * stable ascending sort by token id would order them (HF's torch.sort is unstable there).
 * topP = 1 keeps everything.
 */
export function topP(p: number, minTokensToKeep = 1): LogitsProcessor {
  if (!(p >= 0 && p <= 1)) throw new PolyglotError(`generate: topP must be in [0, 1], found ${p}`);
  return (scores) => {
    if (p >= 1) return;
    const V = scores.length;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (scores[i] > max) max = scores[i];
    if (max === -Infinity) return;
    const w = new Float64Array(V);
    let sum = 0;
    for (let i = 0; i < V; i++) {
      w[i] = Math.exp(scores[i] - max);
      sum += w[i];
    }
    const target = p * sum;
    const need = Math.min(minTokensToKeep, V);
    // Only tokens >= 1e-4 x the top one need sorting when they already hold the target mass (a
    // token below all of them has that mass above it: removed); else sort all. Native typed-array
    // sort, no comparator.
    let headMass = 0;
    let headCount = 0;
    for (let i = 0; i < V; i++) {
      if (w[i] >= 1e-4) {
        headMass += w[i];
        headCount++;
      }
    }
    let ws: Float64Array;
    if (headMass >= target && headCount >= need) {
      ws = new Float64Array(headCount);
      let j = 0;
      for (let i = 0; i < V; i++) if (w[i] >= 1e-4) ws[j++] = w[i];
      ws.sort();
    } else {
      ws = Float64Array.from(w).sort();
    }
    let above = 0;
    let kept = 0;
    for (let r = ws.length - 1; r >= 0; r--) {
      if (kept >= need && !(above < target)) break;
      above += ws[r];
      kept++;
    }
    const cutoff = ws[ws.length - kept];
    let ties = kept; // how many tokens of weight == cutoff survive
    for (let r = ws.length - 1; r >= ws.length - kept; r--) if (ws[r] > cutoff) ties--;
    const keep = new Uint8Array(V);
    for (let i = 0; i < V; i++) if (w[i] > cutoff) keep[i] = 1;
    // among equal weights the higher ids come last in a stable ascending sort: they survive
    for (let i = V - 1; i >= 0 && ties > 0; i--) {
      if (w[i] === cutoff) {
        keep[i] = 1;
        ties--;
      }
    }
    for (let i = 0; i < V; i++) if (!keep[i]) scores[i] = -Infinity;
  };
}
