/**
 * The FFN slot of an NLLB-MoE block: dense (`ffn.fc1/fc2`, NllbMoeDenseActDense) or sparse
 * (`ffn.router` + `ffn.experts.expert_K`), chosen per layer by the sparse step.
 */
import type { Ops } from '../../ops/ops.js';
import { PolyglotLayer, type RunOptions } from '../base.js';
import { FeedForward } from '../feed-forward.js';
import type { ExpertOutputMaskingMode } from './expert-output-masking.js';
import type { RouterOutput } from './router.js';
import { SparseMLP, type SparseMLPConfig } from './sparse-mlp.js';

export interface MoeFfnInput<T> extends RunOptions {
  /** Router padding per flattened token (1 = padding), HF's last-mask-row rule. */
  routerPaddingMask?: ArrayLike<number>;
  /** The same as a [N] tensor (graph mode). */
  routerPaddingTensor?: T;
  expertOutputMasking?: ExpertOutputMaskingMode;
  hfRandomRoutingInEval?: boolean;
}

export class MoeFfn extends PolyglotLayer {
  readonly dense?: FeedForward;
  readonly sparse?: SparseMLP;

  /** `prefix` e.g. "model.encoder.layers.1.ffn". */
  constructor(readonly prefix: string, isSparse: boolean, readonly cfg: SparseMLPConfig) {
    super({});
    if (isSparse) {
      this.sparse = new SparseMLP(prefix, cfg);
    } else {
      this.dense = new FeedForward({ dim: cfg.dModel, ffnDim: cfg.ffnDim, hfPrefix: `${prefix}.`, activation: cfg.activationFunction, activationDropout: cfg.activationDropout });
    }
    this.built = true;
  }

  protected override subLayers(): PolyglotLayer[] {
    return this.dense ? [this.dense] : [this.sparse!];
  }

  get isSparse(): boolean {
    return this.sparse !== undefined;
  }

  run<T>(o: Ops<T>, x: T, input: MoeFfnInput<T>): { output: T; router?: RouterOutput<T> } {
    if (this.dense) return { output: this.dense.run(o, x, input) };
    const r = this.sparse!.run(o, x, {
      training: input.training,
      rng: input.rng,
      paddingMask: input.routerPaddingMask,
      paddingTensor: input.routerPaddingTensor,
      expertOutputMasking: input.expertOutputMasking,
      hfRandomRoutingInEval: input.hfRandomRoutingInEval,
    });
    return { output: r.output, router: r.router };
  }

}
