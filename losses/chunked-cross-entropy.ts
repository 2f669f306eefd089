/**
 * Cross-entropy through a tied output projection without a [tokens, vocab] tensor: logits,
 * softmax and their gradient are computed for `chunkRows` tokens at a time, in forward and
 * again in backward (tf.customGrad), so a 256k vocabulary costs one chunk's logits instead of
 * logits + log-softmax + their gradients for the whole batch (4 x 128 tokens x 256008 x 4 bytes
 * = 524 MB each). Same value as crossEntropy(hidden E^T, labels) (torch CrossEntropyLoss with
 * ignore_index -100 and label_smoothing), up to float summation order.
 */
import { tf } from '../core/tf.js';
import { IGNORE_INDEX } from './cross-entropy.js';

/** Logits elements per chunk (64 MB of float32). */
export const LOGITS_CHUNK_ELEMENTS = 1 << 24;

export interface ChunkedCrossEntropyOptions {
  labelSmoothing?: number;
  /** false when the table is frozen: no [vocab, d] gradient is computed. */
  tableNeedsGrad: boolean;
  chunkRows?: number;
}

/**
 * [c, d] x [V, d]^T as (table hidden^T)^T: the big table is the left, non-transposed operand
 * (a transposed right operand makes the wasm matmul copy the whole [V, d] table per call).
 */
function chunkLogits(hc: tf.Tensor2D, table: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.transpose(tf.matMul(table, hc, false, true)) as tf.Tensor2D);
}

/** hidden [N, d], table [V, d] (logits = hidden table^T), labels [N] int32 -> mean loss over labels != -100. */
export function chunkedTiedCrossEntropy(hidden: tf.Tensor2D, table: tf.Tensor2D, labels: tf.Tensor1D, o: ChunkedCrossEntropyOptions): tf.Scalar {
  const [n] = hidden.shape;
  const v = table.shape[0];
  const rows = Math.max(1, Math.min(n, o.chunkRows ?? Math.floor(LOGITS_CHUNK_ELEMENTS / v)));
  const eps = o.labelSmoothing ?? 0;
  const labelsHost = labels.dataSync();
  const validHost = Float32Array.from(labelsHost, (l) => (l === IGNORE_INDEX ? 0 : 1));
  const count = validHost.reduce((a, b) => a + b, 0);
  const chunks: { start: number; size: number }[] = [];
  for (let s = 0; s < n; s += rows) chunks.push({ start: s, size: Math.min(rows, n - s) });
  const chunkLabels = (c: { start: number; size: number }) => {
    const l = labelsHost.slice(c.start, c.start + c.size);
    return {
      safe: tf.tensor1d(Int32Array.from(l, (x) => (x === IGNORE_INDEX ? 0 : x)), 'int32'),
      valid: tf.tensor1d(validHost.slice(c.start, c.start + c.size)),
    };
  };
  const f = (h: tf.Tensor2D, e: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([h, e]);
    let total: tf.Scalar = tf.scalar(0);
    for (const c of chunks) {
      const next = tf.tidy(() => {
        const { safe, valid } = chunkLabels(c);
        const logits = chunkLogits(tf.slice(h, [c.start, 0], [c.size, -1]), e);
        const logp = tf.logSoftmax(logits);
        const picked = tf.sum(tf.mul(logp, tf.oneHot(safe, v)), 1);
        let perRow = tf.mul(tf.neg(picked), 1 - eps);
        if (eps > 0) perRow = tf.add(perRow, tf.mul(tf.neg(tf.sum(logp, 1)), eps / v));
        return tf.add(total, tf.sum(tf.mul(perRow, valid))) as tf.Scalar;
      });
      total.dispose();
      total = next;
    }
    const value = tf.div(total, tf.scalar(count)) as tf.Scalar;
    total.dispose();
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, es] = saved as [tf.Tensor2D, tf.Tensor2D];
        const scale = tf.div(dy, tf.scalar(count));
        const dHs: tf.Tensor[] = [];
        let dE: tf.Tensor | undefined = o.tableNeedsGrad ? tf.zerosLike(es) : undefined;
        for (const c of chunks) {
          tf.tidy(() => {
            const { safe, valid } = chunkLabels(c);
            const hc = tf.slice(hs, [c.start, 0], [c.size, -1]);
            const p = tf.softmax(chunkLogits(hc, es));
            // d/dz of (1-eps)(-log p_y) + eps/V sum_j(-log p_j) = p - (1-eps) onehot - eps/V
            let dz = tf.sub(p, tf.mul(tf.oneHot(safe, v), 1 - eps));
            if (eps > 0) dz = tf.sub(dz, eps / v);
            dz = tf.mul(dz, tf.mul(tf.expandDims(valid, 1), scale));
            dHs.push(tf.keep(tf.matMul(dz, es)));
            if (dE) {
              const next = tf.add(dE, tf.matMul(dz, hc, true, false));
              dE.dispose();
              dE = tf.keep(next);
            }
          });
        }
        const dH = tf.concat(dHs, 0);
        tf.dispose([...dHs, scale]);
        return o.tableNeedsGrad ? [dH, dE!] : [dH];
      },
    };
  };
  if (o.tableNeedsGrad) return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0])(hidden, table) as tf.Scalar;
  // Frozen table: it is not an input of the custom op, so backprop never asks for its gradient.
  const g = (h: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const r = f(h, table, (ts) => save(ts.slice(0, 1)));
    return { value: r.value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => r.gradFunc(dy, [saved[0], table]) };
  };
  return tf.customGrad(g as unknown as Parameters<typeof tf.customGrad>[0])(hidden) as tf.Scalar;
}
