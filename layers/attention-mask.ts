/**
 * HF additive attention masks (modeling_attn_mask_utils): 0 where attending is allowed,
 * finfo(float32).min where not. The attention layer adds the mask and clamps at
 * finfo.min, so a query row whose keys are all masked gets a uniform softmax, as in HF.
 */
import type { Dim, Ops } from '../ops/ops.js';

/** torch.finfo(torch.float32).min */
export const FLOAT32_MIN = -3.4028234663852886e38;

/** 1 where masked: padding mask [B, Tk] (1 = real key) -> [B, 1, 1, Tk] float32 of (1 - mask). */
function paddingBlocked<T>(o: Ops<T>, attentionMask: T): T {
  const m = o.dtype(attentionMask) === 'float32' ? attentionMask : o.cast(attentionMask, 'float32');
  return o.expandDims(o.expandDims(o.sub(o.scalar(1), m), 1), 1);
}

/**
 * Decoder self-attention mask: query i (absolute position past + i) may see keys j <= past + i
 * that are not padding. attentionMask [B, past + Tq] (1 = real) or undefined (no padding).
 * Returns [B or 1, 1, Tq, Tk].
 */
export function causalAttentionMask<T>(o: Ops<T>, attentionMask: T | undefined, queryLength: Dim<T>, pastLength: Dim<T>): T {
  const keyLength = o.dimAdd(pastLength, queryLength);
  const rows = o.expandDims(o.range(pastLength, keyLength), 1); // [Tq, 1]
  const cols = o.expandDims(o.range(0, keyLength), 0); // [1, Tk]
  let blocked = o.expandDims(o.expandDims(o.cast(o.greater(cols, rows), 'float32'), 0), 0); // [1, 1, Tq, Tk]
  if (attentionMask !== undefined) blocked = o.maximum(blocked, paddingBlocked(o, attentionMask));
  return o.mul(blocked, o.scalar(FLOAT32_MIN));
}

/** Encoder self-attention / cross-attention mask from a key padding mask [B, Tk] -> [B, 1, 1, Tk]. */
export function paddingAttentionMask<T>(o: Ops<T>, attentionMask: T): T {
  return o.mul(paddingBlocked(o, attentionMask), o.scalar(FLOAT32_MIN));
}
