/**
 * Multi-head attention as HF's Bart-family attention (XGLMAttention, NllbMoeAttention):
 * q = q_proj(h) * head_dim^-0.5, k/v from the same sequence (self) or another one (cross),
 * softmax(q k^T + mask, clamped at finfo.min) with dropout, then out_proj. Biases on all
 * four projections. Key/value cache [B, heads, T, head_dim]: self-attention appends the new
 * keys/values to the past ones; cross-attention computes them once and reuses the past.
 */
import { PolyglotError } from '../core/errors.js';
import type { Ops } from '../ops/ops.js';
import { PolyglotLayer, type RunOptions } from './base.js';
import { Linear } from './linear.js';
import { dropout } from './dropout.js';
import { FLOAT32_MIN } from './attention-mask.js';

export interface KeyValue<T> {
  key: T;
  value: T;
}

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

  run<T>(o: Ops<T>, hidden: T, input: AttentionInput<T>): AttentionOutput<T> {
    const [b] = o.shape(hidden);
    const q = this.splitHeads(o, o.mul(this.qProj.run(o, hidden), o.scalar(this.headDim ** -0.5)));
    let key: T;
    let value: T;
    if (this.cfg.isCross) {
      if (input.past) {
        ({ key, value } = input.past);
      } else {
        if (input.keyValueStates === undefined) throw new PolyglotError(`${this.cfg.hfName}: cross-attention needs keyValueStates or a cached past`);
        key = this.splitHeads(o, this.kProj.run(o, input.keyValueStates));
        value = this.splitHeads(o, this.vProj.run(o, input.keyValueStates));
      }
    } else {
      key = this.splitHeads(o, this.kProj.run(o, hidden));
      value = this.splitHeads(o, this.vProj.run(o, hidden));
      if (input.past) {
        key = o.concat([input.past.key, key], 2);
        value = o.concat([input.past.value, value], 2);
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
