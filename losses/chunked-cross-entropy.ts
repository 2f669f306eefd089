/**
 * Cross-entropy through a tied output projection without a [tokens, vocab] tensor: forward
 * computes logits, their log-sum-exp and the loss for `chunkRows` tokens at a time; backward
 * (tf.customGrad) walks the vocabulary in blocks of `vocabRows` table rows, recomputing that
 * block's logits for every token, so a 256k vocabulary costs one chunk's logits instead of
 * logits + log-softmax + their gradients for the whole batch (4 x 128 tokens x 256008 x 4 bytes
 * = 524 MB each). Walking the vocabulary in backward also means each table block is packed
 * once per step by the wasm matmul (XNNPACK packs its right operand) instead of the whole
 * 1 GB table once per token chunk. Same value and gradients as crossEntropy(hidden E^T, labels)
 * (torch CrossEntropyLoss with ignore_index -100 and label_smoothing), up to float summation order.
 */
import { tf } from '../core/tf.js';
import { IGNORE_INDEX } from './cross-entropy.js';

/** Logits elements per chunk (64 MB of float32). */
export const LOGITS_CHUNK_ELEMENTS = 1 << 24;

export interface ChunkedCrossEntropyOptions {
  labelSmoothing?: number;
  /** false when the table is frozen: no [vocab, d] gradient is computed. */
  tableNeedsGrad: boolean;
  /** Tokens per forward chunk (default: LOGITS_CHUNK_ELEMENTS / vocab). */
  chunkRows?: number;
  /** Table rows per backward block (default: LOGITS_CHUNK_ELEMENTS / max(tokens, d)). */
  vocabRows?: number;
}

/**
 * [c, d] x [V, d]^T as (table hidden^T)^T: the big table is the left, non-transposed operand
 * (a transposed right operand makes the wasm matmul copy the whole [V, d] table per call).
 */
function chunkLogits(hc: tf.Tensor2D, table: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.transpose(tf.matMul(table, hc, false, true)) as tf.Tensor2D);
}

interface Span {
  start: number;
  size: number;
}

function spans(total: number, step: number): Span[] {
  const out: Span[] = [];
  for (let s = 0; s < total; s += step) out.push({ start: s, size: Math.min(step, total - s) });
  return out;
}

/** hidden [N, d], table [V, d] (logits = hidden table^T), labels [N] int32 -> mean loss over labels != -100. */
export function chunkedTiedCrossEntropy(hidden: tf.Tensor2D, table: tf.Tensor2D, labels: tf.Tensor1D, o: ChunkedCrossEntropyOptions): tf.Scalar {
  const [n, d] = hidden.shape;
  const v = table.shape[0];
  const rows = Math.max(1, Math.min(n, o.chunkRows ?? Math.floor(LOGITS_CHUNK_ELEMENTS / v)));
  const block = Math.max(1, Math.min(v, o.vocabRows ?? Math.floor(LOGITS_CHUNK_ELEMENTS / Math.max(n, d))));
  const eps = o.labelSmoothing ?? 0;
  const labelsHost = labels.dataSync();
  const validHost = Float32Array.from(labelsHost, (l) => (l === IGNORE_INDEX ? 0 : 1));
  const count = validHost.reduce((a, b) => a + b, 0);
  /** Label ids relative to a table block starting at `start` (-1: not in the block or ignored: a zero one-hot row). */
  const localLabels = (start: number, size: number, from: number, to: number) =>
    tf.tensor1d(Int32Array.from(labelsHost.subarray(from, to), (l) => (l !== IGNORE_INDEX && l >= start && l < start + size ? l - start : -1)), 'int32');
  const f = (h: tf.Tensor2D, e: tf.Tensor2D, save: tf.GradSaveFunc) => {
    let total: tf.Scalar = tf.scalar(0);
    const lses: tf.Tensor1D[] = [];
    for (const c of spans(n, rows)) {
      const next = tf.tidy(() => {
        const logits = chunkLogits(tf.slice(h, [c.start, 0], [c.size, -1]), e);
        const lse = tf.logSumExp(logits, 1) as tf.Tensor1D;
        lses.push(tf.keep(lse));
        const logp = tf.sub(logits, tf.expandDims(lse, 1));
        const picked = tf.sum(tf.mul(logp, tf.oneHot(localLabels(0, v, c.start, c.start + c.size), v)), 1);
        let perRow = tf.mul(tf.neg(picked), 1 - eps);
        if (eps > 0) perRow = tf.add(perRow, tf.mul(tf.neg(tf.sum(logp, 1)), eps / v));
        return tf.add(total, tf.sum(tf.mul(perRow, tf.tensor1d(validHost.subarray(c.start, c.start + c.size))))) as tf.Scalar;
      });
      total.dispose();
      total = next;
    }
    const lse = tf.concat(lses, 0);
    tf.dispose(lses);
    save([h, lse]);
    const value = tf.div(total, tf.scalar(count)) as tf.Scalar;
    total.dispose();
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [hs, lseSaved] = saved as [tf.Tensor2D, tf.Tensor1D];
        // per-token weight of d loss / d logits: valid * dy / count
        const w = tf.tidy(() => tf.expandDims(tf.mul(tf.tensor1d(validHost), tf.div(dy, tf.scalar(count))), 1));
        const lseCol = tf.expandDims(lseSaved, 1);
        // Running sums are returned out of each block's tidy, never tf.keep'd: backprop disposes
        // what a gradient function returns only when it is not kept.
        let dH: tf.Tensor = tf.zerosLike(hs);
        const dEs: tf.Tensor[] = [];
        for (const b of spans(v, block)) {
          const [nextH, dEb] = tf.tidy(() => {
            const eb = b.size === v ? e : tf.slice(e, [b.start, 0], [b.size, -1]);
            // d/dz of (1-eps)(-log p_y) + eps/V sum_j(-log p_j) = p - (1-eps) onehot - eps/V
            const p = tf.exp(tf.sub(chunkLogits(hs, eb as tf.Tensor2D), lseCol));
            let dz = tf.sub(p, tf.mul(tf.oneHot(localLabels(b.start, b.size, 0, n), b.size), 1 - eps));
            if (eps > 0) dz = tf.sub(dz, eps / v);
            dz = tf.mul(dz, w);
            return [tf.add(dH, tf.matMul(dz, eb)), o.tableNeedsGrad ? tf.matMul(dz, hs, true, false) : tf.scalar(0)];
          });
          dH.dispose();
          dH = nextH;
          if (o.tableNeedsGrad) dEs.push(dEb);
          else dEb.dispose();
        }
        tf.dispose([w, lseCol]);
        if (!o.tableNeedsGrad) return [dH];
        const dE = dEs.length === 1 ? dEs[0] : tf.concat(dEs, 0);
        if (dEs.length > 1) tf.dispose(dEs);
        return [dH, dE];
      },
    };
  };
  type Custom = Parameters<typeof tf.customGrad>[0];
  if (o.tableNeedsGrad) return tf.customGrad(f as unknown as Custom)(hidden, table) as tf.Scalar;
  // Frozen table: it is not an input of the custom op, so backprop never asks for its gradient.
  const frozen = (h: tf.Tensor2D, save: tf.GradSaveFunc) => f(h, table, save);
  return tf.customGrad(frozen as unknown as Custom)(hidden) as tf.Scalar;
}
