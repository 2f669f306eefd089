/**
 * NLLB-MoE sparse feed-forward block (HF NllbMoeSparseMLP: top-2 router + experts, each an
 * NllbMoeDenseActDense = `FeedForward`; docs/NLLB-MOE.md section 3).
 *
 * Eager mode dispatches sparsely: routing is read to the host, each expert runs on `tf.gather`ed
 * rows of only its routed tokens (cost follows the 2 chosen experts, not num_experts), its output
 * is masked (`moe_token_dropout`) and scaled by the gate, and results are put back per token with
 * two gathers from the stacked expert outputs (differentiable: gather's gradient is
 * unsortedSegmentSum). Graph mode runs every expert densely on every token times its combine
 * weight (zero for unrouted tokens), with the same routing math.
 */
import { PolyglotError } from '../../core/errors.js';
import type { Ops } from '../../ops/ops.js';
import { PolyglotLayer, type RunOptions } from '../base.js';
import { maskExpertOutput, type ExpertOutputMaskingMode } from './expert-output-masking.js';
import { FeedForward } from '../feed-forward.js';
import { Top2Router, type RouterConfig, type RouterOutput } from './router.js';
import { activeExpertStore, type OffloadedExperts } from './expert-store.js';

export interface SparseMLPConfig extends RouterConfig {
  ffnDim: number;
  activationFunction: string;
  activationDropout: number;
  /** moe_token_dropout. */
  moeTokenDropout: number;
}

export interface SparseRunOptions<T> extends RunOptions {
  /** Per flattened token, 1 = padding (HF: last row of the layer's 4-D mask). */
  paddingMask?: ArrayLike<number>;
  /** The same as a [N] tensor (graph mode). */
  paddingTensor?: T;
  /** "token" (default, Dropout2d-style) or "hf" (element-wise inverted dropout). */
  expertOutputMasking?: ExpertOutputMaskingMode;
  /** Apply random 2nd-expert policies in eval too, as HF does. */
  hfRandomRoutingInEval?: boolean;
}

export interface SparseMLPOutput<T> {
  /** Same shape as the input. */
  output: T;
  router: RouterOutput<T>;
}

export class SparseMLP extends PolyglotLayer {
  readonly router: Top2Router;
  /** Empty when the experts are offloaded (`offloaded`). */
  readonly experts: FeedForward[];
  /** Set when the model was built inside `withExpertStore` (layers/moe/expert-store.ts): experts read on demand. */
  readonly offloaded?: OffloadedExperts;

  constructor(readonly prefix: string, readonly cfg: SparseMLPConfig) {
    super({});
    this.router = new Top2Router(`${prefix}.router`, cfg);
    const store = activeExpertStore();
    if (store) {
      this.offloaded = store.addLayer(prefix, cfg);
      this.experts = [];
      this.built = true;
      return;
    }
    this.experts = Array.from(
      { length: cfg.numExperts },
      (_, e) => new FeedForward({ dim: cfg.dModel, ffnDim: cfg.ffnDim, hfPrefix: `${prefix}.experts.expert_${e}.`, activation: cfg.activationFunction, activationDropout: cfg.activationDropout }),
    );
    this.built = true;
  }

  protected override subLayers(): PolyglotLayer[] {
    return [this.router, ...this.experts];
  }

  /** `x`: [..., d_model]; tokens are flattened row-major (HF `view(-1, hidden)`). */
  run<T>(o: Ops<T>, x: T, opts: SparseRunOptions<T>): SparseMLPOutput<T> {
    const shape = o.shape(x);
    const d = this.cfg.dModel;
    let N: number | T = shape[0];
    for (let i = 1; i < shape.length - 1; i++) N = o.dimMul(N, shape[i]);
    const xs = o.reshape(x, [N, d]);
    const r = this.router.run(o, xs, {
      training: opts.training,
      rng: opts.rng,
      paddingMask: opts.paddingMask,
      paddingTensor: opts.paddingTensor,
      hfRandomRoutingInEval: opts.hfRandomRoutingInEval,
    });
    const masking = { training: opts.training, rng: opts.rng, mode: opts.expertOutputMasking };
    const p = this.cfg.moeTokenDropout;
    let out: T;
    if (o.kind === 'eager') {
      const plan = r.plan;
      if (!plan) throw new PolyglotError(`${this.prefix}: eager routing returned no plan`);
      const n = plan.numTokens;
      const E = this.cfg.numExperts;
      const cwFlat = o.reshape(r.combineWeights, [n * E]);
      const pieces: T[] = [];
      let offset = 0;
      // rowOf1/2[t]: row of the stacked expert outputs holding token t's 1st/2nd contribution.
      const rowOf1 = new Int32Array(n);
      const rowOf2 = new Int32Array(n);
      const pending1 = new Uint8Array(n);
      const pending2 = new Uint8Array(n);
      for (let e = 0; e < E; e++) {
        const tokens = plan.expertTokens[e];
        const k = tokens.length;
        if (k === 0) continue;
        const xe = o.gather(xs, o.constant(tokens, [k], 'int32'));
        // Only experts that receive tokens get here: an offloaded one is read (or found cached) now.
        let he = this.offloaded ? this.offloaded.run(o, e, xe, opts) : this.experts[e].run(o, xe, opts);
        he = maskExpertOutput(o, he, p, masking);
        const gateIdx = Int32Array.from(tokens, (t) => t * E + e);
        const gate = o.reshape(o.gather(cwFlat, o.constant(gateIdx, [k], 'int32')), [k, 1]);
        pieces.push(o.mul(he, gate));
        const slots = plan.expertSlots[e];
        for (let i = 0; i < k; i++) {
          const t = tokens[i];
          if (slots[i] === 1) {
            rowOf1[t] = offset + i;
            pending1[t] = 1;
          } else {
            rowOf2[t] = offset + i;
            pending2[t] = 1;
          }
        }
        offset += k;
      }
      // Tokens without a contribution read a zero row (HF: zeros_like + index_add_).
      for (let t = 0; t < n; t++) {
        if (!pending1[t]) rowOf1[t] = offset;
        if (!pending2[t]) rowOf2[t] = offset;
      }
      pieces.push(o.constant(new Float32Array(d), [1, d]));
      const stacked = o.concat(pieces, 0);
      out = o.add(o.gather(stacked, o.constant(rowOf1, [n], 'int32')), o.gather(stacked, o.constant(rowOf2, [n], 'int32')));
    } else {
      if (opts.training) throw new PolyglotError(`${this.prefix}: graph mode supports eval only`);
      if (this.offloaded) throw new PolyglotError(`${this.prefix}: experts are offloaded (--max-memory); graph export needs every expert resident: load the model without --max-memory`);
      let acc: T | undefined;
      for (let e = 0; e < this.cfg.numExperts; e++) {
        const he = maskExpertOutput(o, this.experts[e].run(o, xs, opts), p, masking);
        const gate = o.slice(r.combineWeights, [0, e], [-1, 1]);
        const y = o.mul(he, gate);
        acc = acc === undefined ? y : o.add(acc, y);
      }
      out = acc!;
    }
    return { output: o.reshape(out, shape), router: r };
  }

}
