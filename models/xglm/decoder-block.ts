/**
 * XGLMDecoderLayer (pre-LayerNorm):
 *   h += dropout(self_attn(self_attn_layer_norm(h)))
 *   h += dropout(fc2(activation_dropout(act(fc1(final_layer_norm(h))))))
 * LayerDrop is decided by the model (it skips whole blocks).
 */
import type { Ops } from '../../ops/ops.js';
import { PolyglotLayer, type RunOptions } from '../../layers/base.js';
import { Attention, type KeyValue } from '../../layers/attention.js';
import { LayerNorm } from '../../layers/layer-norm.js';
import { FeedForward } from '../../layers/feed-forward.js';
import { preNormResidual, residualWithPresent } from '../../layers/residual.js';
import { nativeAttentionBlock, nativeFeedForwardBlock } from '../../layers/decode-blocks.js';

export interface XGLMDecoderBlockConfig {
  dim: number;
  ffnDim: number;
  numHeads: number;
  activation: string;
  dropout: number;
  attentionDropout: number;
  activationDropout: number;
  /** e.g. "model.layers.3" */
  hfName: string;
}

export interface DecoderBlockInput<T> extends RunOptions {
  mask?: T;
  past?: KeyValue<T>;
}

export class XGLMDecoderBlock extends PolyglotLayer {
  readonly cfg: XGLMDecoderBlockConfig;
  readonly selfAttnLayerNorm: LayerNorm;
  readonly selfAttn: Attention;
  readonly finalLayerNorm: LayerNorm;
  readonly ffn: FeedForward;

  constructor(cfg: XGLMDecoderBlockConfig) {
    super({});
    this.cfg = { ...cfg };
    this.selfAttnLayerNorm = new LayerNorm({ dim: cfg.dim, hfName: `${cfg.hfName}.self_attn_layer_norm` });
    this.selfAttn = new Attention({ dim: cfg.dim, numHeads: cfg.numHeads, hfName: `${cfg.hfName}.self_attn`, attentionDropout: cfg.attentionDropout });
    this.finalLayerNorm = new LayerNorm({ dim: cfg.dim, hfName: `${cfg.hfName}.final_layer_norm` });
    this.ffn = new FeedForward({ dim: cfg.dim, ffnDim: cfg.ffnDim, hfPrefix: `${cfg.hfName}.`, activation: cfg.activation, activationDropout: cfg.activationDropout });
    this.built = true;
  }

  protected override subLayers(): PolyglotLayer[] {
    return [this.selfAttn, this.selfAttnLayerNorm, this.ffn, this.finalLayerNorm];
  }

  run<T>(o: Ops<T>, hidden: T, input: DecoderBlockInput<T>): { hidden: T; present: KeyValue<T> } {
    const attnInput = { mask: input.mask, past: input.past, training: input.training, rng: input.rng };
    // Decode steps on the native path: each sub-block is one native call (layers/decode-blocks.ts).
    const attn =
      nativeAttentionBlock(o, hidden, this.selfAttnLayerNorm, this.selfAttn, attnInput) ??
      residualWithPresent(preNormResidual(o, hidden, this.selfAttnLayerNorm, (x) => this.selfAttn.run(o, x, attnInput), this.cfg.dropout, input));
    // XGLM's FFN output is dropped out with config.dropout (activation_dropout is inside the FFN).
    const ff =
      nativeFeedForwardBlock(o, attn.hidden, this.finalLayerNorm, this.ffn, input) ??
      preNormResidual(o, attn.hidden, this.finalLayerNorm, (x) => ({ output: this.ffn.run(o, x, input) }), this.cfg.dropout, input).hidden;
    return { hidden: ff, present: attn.present };
  }

}
