/**
 * Multi-head attention as HF's Bart-family attention (XGLMAttention, NllbMoeAttention):
 * q = q_proj(h) * head_dim^-0.5, k/v from the same sequence (self) or another one (cross),
 * softmax(q k^T + mask, clamped at finfo.min) with dropout, then out_proj. Biases on all
 * four projections. Key/value cache [B, heads, T, head_dim]: self-attention appends the new
 * keys/values to the past ones; cross-attention computes them once and reuses the past.
 * Eager inference on the native wasm path with a cache and a few query rows (decode steps)
 * runs the fused kernel instead (native-attention.ts: one call for scores, mask, softmax and
 * context, new keys/values appended into spare rows of the cache buffer).
 */
import type { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import { gradientsRecorded, maskFits, nativeAttention, nativeAttentionAvailable } from '../backend/native-attention.js';
import { PolyglotLayer, type RunOptions } from './base.js';
import { Linear } from './linear.js';
import { dropout } from './dropout.js';
import { FLOAT32_MIN } from './attention-mask.js';
import { appendStep } from './kv-buffer.js';

export interface KeyValue<T> {
  key: T;
  value: T;
  /**
   * Set by decoding sessions on caches they own: only the first `length` rows (axis 2) are in
   * use, and the rows after them may be overwritten in place (the fused path appends there and
   * grows the buffer by doubling). Unset: the tensors are exactly the cache and never written.
   */
  length?: number;
}

/** Fused attention serves steps of at most this many query rows (decode, beams); prompts keep the batched matmuls. */
export const FUSED_ATTENTION_MAX_QUERIES = 8;

export interface AttentionConfig {
  dim: number;
  numHeads: number;
  /** HF module name, e.g. "model.layers.0.self_attn" or "model.decoder.layers.1.cross_attention". */
  hfName: string;
  /** Dropout on the attention probabilities. */
  attentionDropout?: number;
  bias?: boolean;
  /** true: keys/values come from `keyValueStates` (encoder output) and are cached once. */
  isCross?: boolean;
}

export interface AttentionInput<T> extends RunOptions {
  /** Additive mask broadcastable to [B, heads, Tq, Tk] (attention-mask.ts). */
  mask?: T;
  /** Cross-attention: the other sequence [B, Tk, d]; not needed when `past` holds its keys/values. */
  keyValueStates?: T;
  /** Cached keys/values from earlier calls. */
  past?: KeyValue<T>;
}

export interface AttentionOutput<T> {
  output: T;
  /** Keys/values to feed as `past` next time (self: past + new; cross: the computed or reused ones). */
  present: KeyValue<T>;
}

export class Attention extends PolyglotLayer {
  readonly cfg: Required<AttentionConfig>;
  readonly headDim: number;
  readonly qProj: Linear;
  readonly kProj: Linear;
  readonly vProj: Linear;
  readonly outProj: Linear;

  constructor(cfg: AttentionConfig) {
    super({});
    this.cfg = { attentionDropout: 0, bias: true, isCross: false, ...cfg };
    if (cfg.dim % cfg.numHeads !== 0) {
      throw new PolyglotError(`${cfg.hfName}: embed_dim must be divisible by num_heads (got ${cfg.dim} and ${cfg.numHeads})`);
    }
    this.headDim = cfg.dim / cfg.numHeads;
    const lin = (n: string) => new Linear({ inFeatures: cfg.dim, outFeatures: cfg.dim, hfName: `${cfg.hfName}.${n}`, bias: this.cfg.bias });
    this.qProj = lin('q_proj');
    this.kProj = lin('k_proj');
    this.vProj = lin('v_proj');
    this.outProj = lin('out_proj');
    this.built = true;
  }

  protected override subLayers(): PolyglotLayer[] {
    return [this.qProj, this.kProj, this.vProj, this.outProj];
  }

  /** [B, T, d] -> [B, heads, T, head_dim] */
  private splitHeads<T>(o: Ops<T>, x: T): T {
    const [b] = o.shape(x);
    return o.transpose(o.reshape(x, [b, -1, this.cfg.numHeads, this.headDim]), [0, 2, 1, 3]);
  }

  /** The fused native kernel can compute this call (eager inference with a cache, few query rows). */
  fusedApplies<T>(o: Ops<T>, hidden: T, input: AttentionInput<T>): boolean {
    if ((o as unknown) !== eagerOps || input.past === undefined || input.training === true || !nativeAttentionAvailable() || gradientsRecorded()) return false;
    const [b, tq] = (hidden as unknown as tf.Tensor).shape as [number, number, number];
    const key = input.past.key as unknown as tf.Tensor;
    if (tq > FUSED_ATTENTION_MAX_QUERIES || key.rank !== 4 || key.dtype !== 'float32' || key.shape[0] !== b) return false;
    const keys = (input.past.length ?? key.shape[2]!) + (this.cfg.isCross ? 0 : tq);
    return input.mask === undefined || maskFits(input.mask as unknown as tf.Tensor, b, this.cfg.numHeads, tq, keys);
  }

  /** The fused path: q/k/v projections, one native attention call (appending k/v in place), out projection. */
  private runFused(hidden: tf.Tensor, input: AttentionInput<tf.Tensor>): AttentionOutput<tf.Tensor> {
    const past = input.past!;
    const length = past.length ?? past.key.shape[2]!;
    const q = this.qProj.run(eagerOps, hidden);
    const common = { q, mask: input.mask, length, numHeads: this.cfg.numHeads, scale: this.headDim ** -0.5 };
    if (this.cfg.isCross) {
      return { output: this.outProj.run(eagerOps, nativeAttention({ ...common, key: past.key, value: past.value })), present: past };
    }
    const keyNew = this.kProj.run(eagerOps, hidden);
    const valueNew = this.vProj.run(eagerOps, hidden);
    const { key, value, present } = appendStep(past, hidden.shape[1]!);
    const context = nativeAttention({ ...common, key, value, keyNew, valueNew });
    return { output: this.outProj.run(eagerOps, context), present };
  }

  run<T>(o: Ops<T>, hidden: T, input: AttentionInput<T>): AttentionOutput<T> {
    if (this.fusedApplies(o, hidden, input)) {
      return this.runFused(hidden as unknown as tf.Tensor, input as unknown as AttentionInput<tf.Tensor>) as unknown as AttentionOutput<T>;
    }
    const [b] = o.shape(hidden);
    const q = this.splitHeads(o, o.mul(this.qProj.run(o, hidden), o.scalar(this.headDim ** -0.5)));
    let key: T;
    let value: T;
    const past = input.past === undefined ? undefined : inUse(o, input.past);
    if (this.cfg.isCross) {
      if (past) {
        ({ key, value } = past);
      } else {
        if (input.keyValueStates === undefined) throw new PolyglotError(`${this.cfg.hfName}: cross-attention needs keyValueStates or a cached past`);
        key = this.splitHeads(o, this.kProj.run(o, input.keyValueStates));
        value = this.splitHeads(o, this.vProj.run(o, input.keyValueStates));
      }
    } else {
      key = this.splitHeads(o, this.kProj.run(o, hidden));
      value = this.splitHeads(o, this.vProj.run(o, hidden));
      if (past) {
        key = o.concat([past.key, key], 2);
        value = o.concat([past.value, value], 2);
      }
    }
    let scores = o.matMul(q, key, false, true); // [B, H, Tq, Tk]
    if (input.mask !== undefined) {
      // HF: attn_weights + mask, then torch.max(., finfo.min): fully masked rows become uniform.
      // Gradient: tfjs maximum gives dy to its first input on ties, so those rows pass the full
      // gradient, as HF's float64 references do (there the clamp compares with a float32 -inf and
      // never ties); HF run in float32 ties and passes half. It matters only when a fully masked
      // row's output reaches the loss (left padding, 4.46 loss: the last pad predicts the first token).
      scores = o.maximum(o.add(scores, input.mask), o.scalar(FLOAT32_MIN));
    }
    const probs = dropout(o, o.softmax(scores), this.cfg.attentionDropout, input);
    const context = o.matMul(probs, value); // [B, H, Tq, hd]
    const merged = o.reshape(o.transpose(context, [0, 2, 1, 3]), [b, -1, this.cfg.dim]);
    return { output: this.outProj.run(o, merged), present: { key, value } };
  }

}

/** The rows of a cache in use: a session's buffer (`length` set) sliced to them when it has spare rows. */
function inUse<T>(o: Ops<T>, kv: KeyValue<T>): KeyValue<T> {
  const [b, h, rows, hd] = o.shape(kv.key);
  if (kv.length === undefined || kv.length === rows) return { key: kv.key, value: kv.value };
  const size = [b, h, kv.length, hd];
  return { key: o.slice(kv.key, [0, 0, 0, 0], size), value: o.slice(kv.value, [0, 0, 0, 0], size) };
}
