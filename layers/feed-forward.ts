/**
 * The dense FFN of XGLM / NLLB-MoE (NllbMoeDenseActDense): fc1 -> activation ->
 * dropout(activation_dropout) -> fc2. Parameter names `<prefix>fc1.*`, `<prefix>fc2.*`
 * (XGLM: "model.layers.0.", NLLB-MoE: "model.encoder.layers.0.ffn.").
 */
import type { Ops } from '../ops/ops.js';
import { PolyglotLayer, type RunOptions } from './base.js';
import { Linear } from './linear.js';
import { applyActivation, checkActivationName, type ActivationName } from './activations.js';
import { dropout } from './dropout.js';

export interface FeedForwardConfig {
  dim: number;
  ffnDim: number;
  /** Prefix of fc1/fc2, ending with "." (or empty). */
  hfPrefix: string;
  activation: string;
  activationDropout?: number;
  bias?: boolean;
}

export class FeedForward extends PolyglotLayer {
  readonly cfg: Required<FeedForwardConfig>;
  readonly activation: ActivationName;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(cfg: FeedForwardConfig) {
    super({});
    this.cfg = { activationDropout: 0, bias: true, ...cfg };
    this.activation = checkActivationName(cfg.activation);
    this.fc1 = new Linear({ inFeatures: cfg.dim, outFeatures: cfg.ffnDim, hfName: `${cfg.hfPrefix}fc1`, bias: this.cfg.bias });
    this.fc2 = new Linear({ inFeatures: cfg.ffnDim, outFeatures: cfg.dim, hfName: `${cfg.hfPrefix}fc2`, bias: this.cfg.bias });
    this.built = true;
  }

  protected override subLayers(): PolyglotLayer[] {
    return [this.fc1, this.fc2];
  }

  run<T>(o: Ops<T>, x: T, opts: RunOptions): T {
    const h = applyActivation(o, this.activation, this.fc1.run(o, x));
    return this.fc2.run(o, dropout(o, h, this.cfg.activationDropout, opts));
  }

}
