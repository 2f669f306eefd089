/**
 * Token cross-entropy from logits as torch's F.cross_entropy(ignore_index=-100,
 * reduction="mean"): mean of -log softmax(logits)[label] over targets != -100.
 * As torch, a batch whose targets are all ignored gives NaN (0 / 0).
 */
import type { Ops } from '../ops/ops.js';
import { PolyglotError } from '../core/errors.js';

export const IGNORE_INDEX = -100;

export interface CrossEntropyOptions {
  ignoreIndex?: number;
  /**
   * torch CrossEntropyLoss(label_smoothing=eps): the target distribution is
   * (1 - eps) * onehot + eps / V, so loss = (1 - eps) * nll + eps * mean_j(-log p_j),
   * both averaged over the non-ignored targets (ignored rows add nothing to either term).
   */
  labelSmoothing?: number;
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
  const count = o.sum(validF, 0);
  const nll = o.div(total, count);
  const eps = opts.labelSmoothing ?? 0;
  if (eps === 0) return nll;
  if (!(eps > 0 && eps <= 1)) throw new PolyglotError(`label smoothing: expected a value in [0, 1], found ${eps}`);
  // smooth_loss = -sum_j log p_ij per valid row, scaled by eps / V (torch's formula)
  const rowSum = o.sum(logp, 1);
  const smooth = o.div(o.neg(o.sum(o.mul(rowSum, validF), 0)), count);
  const vNum = typeof v === 'number' ? o.scalar(v) : o.cast(v, 'float32');
  return o.add(o.mul(nll, o.scalar(1 - eps)), o.mul(smooth, o.div(o.scalar(eps), vNum)));
}
