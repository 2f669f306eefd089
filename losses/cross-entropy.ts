/**
 * Token cross-entropy from logits as torch's F.cross_entropy(ignore_index=-100,
 * reduction="mean"): mean of -log softmax(logits)[label] over targets != -100.
 * As torch, a batch whose targets are all ignored gives NaN (0 / 0).
 */
import type { Ops } from '../ops/ops.js';

export const IGNORE_INDEX = -100;

export interface CrossEntropyOptions {
  ignoreIndex?: number;
}

/** logits [N, V] float32, labels [N] int32 -> scalar mean loss. */
export function crossEntropy<T>(o: Ops<T>, logits: T, labels: T, opts: CrossEntropyOptions = {}): T {
  const ignore = opts.ignoreIndex ?? IGNORE_INDEX;
  const [n, v] = o.shape(logits);
  const labels32 = o.dtype(labels) === 'int32' ? labels : o.cast(labels, 'int32');
  const valid = o.notEqual(labels32, o.scalar(ignore, 'int32'));
  const safe = o.where(valid, labels32, o.mul(labels32, o.scalar(0, 'int32')));
  const logp = o.logSoftmax(logits);
  // Pick logp[i, label_i] with a flat gather (a one-hot of [N, V] would double the logits' memory).
  const flatIdx = o.add(o.mul(o.range(0, n), typeof v === 'number' ? o.scalar(v, 'int32') : v), safe);
  const picked = o.gather(o.reshape(logp, [o.dimMul(n, v)]), flatIdx, 0);
  const validF = o.cast(valid, 'float32');
  const total = o.neg(o.sum(o.mul(picked, validF), 0));
  return o.div(total, o.sum(validF, 0));
}
