/**
 * Host-side math on one row of next-token scores (a Float32Array of vocabulary size).
 * Generation reads the model's [B, V] logits once per step and does everything else here:
 * a 256k vocabulary times a few rows is cheap on the CPU and keeps the loop free of tensors.
 */

/** Index of the largest score; the first one on ties (torch.argmax on CPU). */
export function argmax(row: Float32Array): number {
  let best = 0;
  let bestV = row[0];
  for (let i = 1; i < row.length; i++) {
    const v = row[i];
    if (v > bestV || (Number.isNaN(bestV) && !Number.isNaN(v))) {
      best = i;
      bestV = v;
    }
  }
  return best;
}

/** log_softmax in place (computed in float64, stored float32 as HF's float32 scores). */
export function logSoftmaxInPlace(row: Float32Array): void {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  if (max === -Infinity) return; // every token masked: leave -inf everywhere
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i] - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < row.length; i++) row[i] = row[i] - lse;
}

/** softmax into a new float64 array (probabilities for sampling; -inf -> exactly 0). */
export function softmax(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  const p = new Float64Array(row.length);
  if (max === -Infinity) return p;
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp(row[i] - max);
    p[i] = e;
    sum += e;
  }
  for (let i = 0; i < row.length; i++) p[i] /= sum;
  return p;
}

/**
 * The k largest entries of `values`, largest first, as [value, index] pairs; ties keep the lower
 * index first. A bounded insertion list: O(n k), fine for k = 2 * num_beams.
 */
export function topK(values: Float32Array, k: number): { values: number[]; indices: number[] } {
  const vs: number[] = [];
  const is: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    let j: number;
    if (vs.length < k) {
      vs.push(v);
      is.push(i);
      j = vs.length - 1;
    } else if (v > vs[k - 1]) {
      j = k - 1;
    } else {
      continue;
    }
    // move strictly smaller entries down; equal ones stay ahead (lower index first)
    while (j > 0 && vs[j - 1] < v) {
      vs[j] = vs[j - 1];
      is[j] = is[j - 1];
      j--;
    }
    vs[j] = v;
    is[j] = i;
  }
  return { values: vs, indices: is };
}
