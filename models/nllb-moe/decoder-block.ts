/**
 * NllbMoeDecoderLayer (pre-LayerNorm):
 *   h += dropout(self_attn(self_attn_layer_norm(h)))                  causal, self KV cache
 *   h += dropout(cross_attention(cross_attention_layer_norm(h), enc)) cross KV cache (computed once)
 *   h += ff_dropout(ffn(ff_layer_norm(h)))                            dense or sparse (cfg.ffnOutputDropout)
 * HF names: `cross_attention` / `cross_attention_layer_norm` (not encoder_attn).
 */
import type { Ops } from '../../ops/ops.js';
import { PolyglotLayer } from '../../layers/base.js';
import { Attention, type KeyValue } from '../../layers/attention.js';
import { LayerNorm } from '../../layers/layer-norm.js';
import { MoeFfn, type MoeFfnInput } from '../../layers/moe/moe-ffn.js';
import { preNormResidual, residualWithPresent } from '../../layers/residual.js';
import { nativeAttentionBlock, nativeFeedForwardBlock } from '../../layers/decode-blocks.js';
import type { RouterOutput } from '../../layers/moe/router.js';
import type { MoeBlockConfig } from './encoder-block.js';

export interface Seq2SeqDecoderBlockInput<T> extends MoeFfnInput<T> {
  /** Additive causal (+ padding) mask [B|1, 1, Tq, Tk]. */
  selfMask?: T;
  /** Additive encoder key-padding mask [B, 1, 1, Ts]. */
  crossMask?: T;
  /** Encoder output [B, Ts, d] (not needed when pastCross is given). */
  encoderHidden?: T;
  pastSelf?: KeyValue<T>;
  pastCross?: KeyValue<T>;
}

export interface Seq2SeqDecoderBlockOutput<T> {
  hidden: T;
  presentSelf: KeyValue<T>;
  presentCross: KeyValue<T>;
  router?: RouterOutput<T>;
}

export class NllbMoeDecoderBlock extends PolyglotLayer {
  readonly selfAttn: Attention;
  readonly selfAttnLayerNorm: LayerNorm;
  readonly crossAttention: Attention;
  readonly crossAttentionLayerNorm: LayerNorm;
  readonly ffLayerNorm: LayerNorm;
  readonly ffn: MoeFfn;

  constructor(readonly cfg: MoeBlockConfig) {
    super({});
    const d = cfg.dModel;
    this.selfAttn = new Attention({ dim: d, numHeads: cfg.numHeads, hfName: `${cfg.hfName}.self_attn`, attentionDropout: cfg.attentionDropout });
    this.selfAttnLayerNorm = new LayerNorm({ dim: d, hfName: `${cfg.hfName}.self_attn_layer_norm` });
    this.crossAttention = new Attention({ dim: d, numHeads: cfg.numHeads, hfName: `${cfg.hfName}.cross_attention`, attentionDropout: cfg.attentionDropout, isCross: true });
    this.crossAttentionLayerNorm = new LayerNorm({ dim: d, hfName: `${cfg.hfName}.cross_attention_layer_norm` });
    this.ffLayerNorm = new LayerNorm({ dim: d, hfName: `${cfg.hfName}.ff_layer_norm` });
    this.ffn = new MoeFfn(`${cfg.hfName}.ffn`, cfg.isSparse, cfg);
    this.built = true;
  }

  protected override subLayers(): PolyglotLayer[] {
    return [this.selfAttn, this.selfAttnLayerNorm, this.crossAttention, this.crossAttentionLayerNorm, this.ffn, this.ffLayerNorm];
  }

  run<T>(o: Ops<T>, hidden: T, input: Seq2SeqDecoderBlockInput<T>): Seq2SeqDecoderBlockOutput<T> {
    const opts = { training: input.training, rng: input.rng };
    const selfInput = { ...opts, mask: input.selfMask, past: input.pastSelf };
    const crossInput = { ...opts, mask: input.crossMask, keyValueStates: input.encoderHidden, past: input.pastCross };
    // Decode steps on the native path: each sub-block is one native call (layers/decode-blocks.ts).
    const self =
      nativeAttentionBlock(o, hidden, this.selfAttnLayerNorm, this.selfAttn, selfInput) ??
      residualWithPresent(preNormResidual(o, hidden, this.selfAttnLayerNorm, (x) => this.selfAttn.run(o, x, selfInput), this.cfg.dropout, input));
    const cross =
      nativeAttentionBlock(o, self.hidden, this.crossAttentionLayerNorm, this.crossAttention, crossInput) ??
      residualWithPresent(preNormResidual(o, self.hidden, this.crossAttentionLayerNorm, (x) => this.crossAttention.run(o, x, crossInput), this.cfg.dropout, input));
    const dense = this.ffn.dense === undefined ? undefined : nativeFeedForwardBlock(o, cross.hidden, this.ffLayerNorm, this.ffn.dense, input);
    if (dense !== undefined) return { hidden: dense, presentSelf: self.present, presentCross: cross.present };
    const ff = preNormResidual(o, cross.hidden, this.ffLayerNorm, (x) => this.ffn.run(o, x, input), this.cfg.ffnOutputDropout, input);
    return { hidden: ff.hidden, presentSelf: self.present, presentCross: cross.present, router: ff.result.router };
  }
}
