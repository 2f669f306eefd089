/**
 * NllbMoeEncoderLayer (pre-LayerNorm):
 *   h += dropout(self_attn(self_attn_layer_norm(h)))                    (attn_dropout = config.dropout)
 *   h += ff_dropout(ffn(ff_layer_norm(h)))        (ff_dropout = activation_dropout; dropout for M2M100 checkpoints)
 * The FFN is dense or sparse (router + experts). LayerDrop is decided by the model.
 */
import type { Ops } from '../../ops/ops.js';
import { PolyglotLayer } from '../../layers/base.js';
import { Attention } from '../../layers/attention.js';
import { LayerNorm } from '../../layers/layer-norm.js';
import { MoeFfn, type MoeFfnInput } from '../../layers/moe/moe-ffn.js';
import { preNormResidual } from '../../layers/residual.js';
import type { RouterOutput } from '../../layers/moe/router.js';
import type { SparseMLPConfig } from '../../layers/moe/sparse-mlp.js';

export interface MoeBlockConfig extends SparseMLPConfig {
  numHeads: number;
  dropout: number;
  attentionDropout: number;
  isSparse: boolean;
  /** Training dropout on the FFN block output (NllbMoe: activation_dropout; M2M100: dropout). */
  ffnOutputDropout: number;
  /** e.g. "model.encoder.layers.1" */
  hfName: string;
}

export interface EncoderBlockInput<T> extends MoeFfnInput<T> {
  /** Additive key-padding mask [B, 1, 1, T]. */
  mask?: T;
}

export class NllbMoeEncoderBlock extends PolyglotLayer {
  readonly selfAttn: Attention;
  readonly selfAttnLayerNorm: LayerNorm;
  readonly ffLayerNorm: LayerNorm;
  readonly ffn: MoeFfn;

  constructor(readonly cfg: MoeBlockConfig) {
    super({});
    const d = cfg.dModel;
    this.selfAttn = new Attention({ dim: d, numHeads: cfg.numHeads, hfName: `${cfg.hfName}.self_attn`, attentionDropout: cfg.attentionDropout });
    this.selfAttnLayerNorm = new LayerNorm({ dim: d, hfName: `${cfg.hfName}.self_attn_layer_norm` });
    this.ffLayerNorm = new LayerNorm({ dim: d, hfName: `${cfg.hfName}.ff_layer_norm` });
    this.ffn = new MoeFfn(`${cfg.hfName}.ffn`, cfg.isSparse, cfg);
    this.built = true;
  }

  protected override subLayers(): PolyglotLayer[] {
    return [this.selfAttn, this.selfAttnLayerNorm, this.ffn, this.ffLayerNorm];
  }

  run<T>(o: Ops<T>, hidden: T, input: EncoderBlockInput<T>): { hidden: T; router?: RouterOutput<T> } {
    const attn = preNormResidual(o, hidden, this.selfAttnLayerNorm, (x) => this.selfAttn.run(o, x, { mask: input.mask, training: input.training, rng: input.rng }), this.cfg.dropout, input);
    const ff = preNormResidual(o, attn.hidden, this.ffLayerNorm, (x) => this.ffn.run(o, x, input), this.cfg.ffnOutputDropout, input);
    return { hidden: ff.hidden, router: ff.result.router };
  }

}
