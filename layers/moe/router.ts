/**
 * Top-2 router of NLLB-MoE (HF `NllbMoeTop2Router`, docs/NLLB-MOE.md section 2).
 *
 * `run` computes the raw router logits (float32: `router_dtype`), then the routing plan
 * (top-1 / top-2 experts, random 2nd-expert policies, padding, capacity slots), then the
 * differentiable combine weights (gates) from the softmax probabilities and the plan's masks.
 *
 * Eager mode decides routing on the host (`planRouting`, exact HF slot rules) and keeps per-expert
 * token lists for the sparse MLP. Graph mode (`o.kind === 'graph'`) expresses the same decisions
 * with argMax / oneHot / cumsum / comparisons (deterministic policies only).
 */
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import type { Rng } from '../../core/random.js';
import type { Dim, Ops } from '../../ops/ops.js';
import { PolyglotLayer } from '../base.js';
import { Linear } from '../linear.js';
import { planRouting, type RoutingPlan } from './routing-plan.js';

/** float32 machine epsilon (torch.finfo(float32).eps), HF's clamp of the gate denominator. */
export const FLOAT32_EPS = 1.1920928955078125e-7;

export interface RouterConfig {
  numExperts: number;
  dModel: number;
  routerBias: boolean;
  /** "all" | "sampling" | "random" (anything else behaves like "all", as HF). */
  secondExpertPolicy: string;
  normalizeRouterProbBeforeDropping: boolean;
  batchPrioritizedRouting: boolean;
  /** Inverted as HF: false = padding tokens are not routed. */
  routerIgnorePaddingTokens: boolean;
  /** Training capacity per expert (null: 2 * ceil(N / E)). */
  expertCapacity: number | null;
  moeEvalCapacityTokenFraction: number;
}

export interface RouteOptions<T = unknown> {
  training: boolean;
  rng?: Rng;
  /**
   * Per flattened token (row-major over batch, seq): 1 = padding. Only used when
   * `routerIgnorePaddingTokens` is false (HF's inverted flag).
   */
  paddingMask?: ArrayLike<number>;
  /** The same as a [N] float tensor (graph mode; read to the host in eager mode when paddingMask is absent). */
  paddingTensor?: T;
  /** HF applies the "sampling" / "random" policies in eval too; default here: eval is deterministic. */
  hfRandomRoutingInEval?: boolean;
}

/**
 * One-hot over the experts, [N, E] float. tfjs `oneHot` refuses depth 1, so one expert gives a
 * column of ones (every index is 0 then, as HF's `one_hot(idx, num_classes=1)`).
 */
export function expertOneHot<T>(o: Ops<T>, indices: T, numExperts: number): T {
  if (numExperts > 1) return o.oneHot(indices, numExperts);
  return o.expandDims(o.add(o.mul(o.cast(indices, 'float32'), o.scalar(0)), o.scalar(1)), 1);
}

/**
 * Gates from the softmax `probs` [N, E] and one-hot choices / survival masks (HF
 * `normalize_router_probabilities` + `gates1 + gates2`). Differentiable in `probs`.
 * `oh1`, `oh2`: [N, E] float one-hots of the top-1 / top-2 experts; `s1`, `s2`: [N, 1] float survival.
 */
export function combineWeights<T>(o: Ops<T>, probs: T, oh1: T, oh2: T, s1: T, s2: T, normalizeBefore: boolean, rawSecondGate: boolean): T {
  const p1 = o.sum(o.mul(probs, oh1), -1 + o.rank(probs), true);
  const p2 = o.sum(o.mul(probs, oh2), -1 + o.rank(probs), true);
  const eps = o.scalar(FLOAT32_EPS);
  let g1: T;
  let g2: T;
  if (normalizeBefore) {
    // Normalised over the two chosen experts before padding / capacity; dropped shares are lost.
    const denom = o.maximum(o.add(p1, p2), eps);
    g1 = o.mul(o.div(p1, denom), s1);
    g2 = o.mul(rawSecondGate ? p2 : o.div(p2, denom), s2);
  } else {
    // Normalised over the surviving experts: a token that lost one expert gives the other weight 1.
    const a = o.mul(p1, s1);
    const b = o.mul(p2, s2);
    const denom = o.maximum(o.add(a, b), eps);
    g1 = o.div(a, denom);
    g2 = o.div(b, denom);
  }
  return o.add(o.mul(g1, oh1), o.mul(g2, oh2));
}

export interface RouterOutput<T> {
  /** Raw router logits [N, E] (float32, the classifier output). */
  logits: T;
  /** softmax(logits) [N, E]. */
  probs: T;
  /** Post-capacity combine weights [N, E] (what HF returns as "router logits"). */
  combineWeights: T;
  /** HF's top-1 expert index per token [N] int32 (0 when dropped / masked). */
  top1Index: T;
  /** Capacity used by this call. */
  capacity: Dim<T>;
  /** Eager mode: the host routing plan (per-expert token lists and statistics). */
  plan?: RoutingPlan;
}

export class Top2Router extends PolyglotLayer {
  readonly classifier: Linear;

  constructor(readonly prefix: string, readonly cfg: RouterConfig) {
    super({});
    if (cfg.numExperts < 1) throw new PolyglotError(`${prefix}: num_experts must be >= 1, found ${cfg.numExperts}`);
    this.classifier = new Linear({ hfName: `${prefix}.classifier`, inFeatures: cfg.dModel, outFeatures: cfg.numExperts, bias: cfg.routerBias });
    this.built = true;
  }

  protected override subLayers(): PolyglotLayer[] {
    return [this.classifier];
  }

  /** Capacity of a call of `numTokens` tokens (HF, without the stale-state bug). */
  capacityFor(numTokens: number, training: boolean): number {
    const c = this.cfg;
    if (!training && c.moeEvalCapacityTokenFraction > 0) return Math.ceil(c.moeEvalCapacityTokenFraction * numTokens);
    return c.expertCapacity ?? 2 * Math.ceil(numTokens / c.numExperts);
  }

  /** The second-expert policy in effect: random ones only in training unless HF eval behaviour is asked for. */
  effectivePolicy(opts: RouteOptions<unknown>): string {
    const p = this.cfg.secondExpertPolicy;
    if (p !== 'sampling' && p !== 'random') return 'all';
    return opts.training || opts.hfRandomRoutingInEval ? p : 'all';
  }

  /** Routes `x` [N, d] (flattened tokens). */
  run<T>(o: Ops<T>, x: T, opts: RouteOptions<T>): RouterOutput<T> {
    const logits = this.classifier.run(o, x);
    const probs = o.softmax(logits);
    const E = this.cfg.numExperts;
    const policy = this.effectivePolicy(opts);
    if (o.kind === 'eager') {
      let padding = this.cfg.routerIgnorePaddingTokens ? undefined : opts.paddingMask;
      if (!this.cfg.routerIgnorePaddingTokens && !padding && opts.paddingTensor !== undefined) {
        padding = (opts.paddingTensor as unknown as tf.Tensor).dataSync() as Float32Array;
      }
      const N = o.shape(x)[0] as number;
      const pHost = (probs as unknown as tf.Tensor).dataSync() as Float32Array;
      const lHost = (logits as unknown as tf.Tensor).dataSync() as Float32Array;
      const capacity = this.capacityFor(N, opts.training);
      const plan = planRouting(pHost, lHost, N, E, {
        capacity,
        policy,
        normalizeBeforeDropping: this.cfg.normalizeRouterProbBeforeDropping,
        batchPrioritized: this.cfg.batchPrioritizedRouting,
        paddingMask: padding,
        rng: opts.rng,
      });
      const s1 = new Float32Array(N);
      const s2 = new Float32Array(N);
      for (let t = 0; t < N; t++) {
        s1[t] = plan.keep1[t];
        s2[t] = plan.keep2[t];
      }
      const oh1 = expertOneHot(o, o.constant(plan.top1, [N], 'int32'), E);
      const oh2 = expertOneHot(o, o.constant(plan.top2, [N], 'int32'), E);
      const cw = combineWeights(o, probs, oh1, oh2, o.constant(s1, [N, 1]), o.constant(s2, [N, 1]), plan.normalizeBeforeDropping, plan.rawSecondGate);
      return { logits, probs, combineWeights: cw, top1Index: o.constant(plan.top1Index, [N], 'int32'), capacity, plan };
    }
    if (policy !== 'all') {
      throw new PolyglotError(`${this.prefix}: second_expert_policy "${policy}" is random and cannot be exported to a graph; export in eval mode`);
    }
    return this.runGraph(o, x, logits, probs, opts);
  }

  /** Graph-friendly routing: the same decisions with argMax / oneHot / cumsum / comparisons. */
  private runGraph<T>(o: Ops<T>, x: T, logits: T, probs: T, opts: RouteOptions<T>): RouterOutput<T> {
    const E = this.cfg.numExperts;
    const N = o.shape(x)[0];
    const top1 = o.argMax(probs, 1);
    const oh1 = expertOneHot(o, top1, E);
    // Top-2 = argmax of the logits with the top-1 column pushed to -inf (HF masked_fill).
    const top2 = o.argMax(o.sub(logits, o.mul(oh1, o.scalar(1e30))), 1);
    const oh2 = E > 1 ? expertOneHot(o, top2, E) : oh1;
    let m1 = oh1;
    let m2 = oh2;
    if (!this.cfg.routerIgnorePaddingTokens && (opts.paddingTensor !== undefined || opts.paddingMask)) {
      const pad = opts.paddingTensor !== undefined
        ? o.cast(opts.paddingTensor, 'float32')
        : o.constant(Array.from(opts.paddingMask!, Number), [opts.paddingMask!.length]);
      const nonPad = o.expandDims(o.sub(o.scalar(1), o.cast(o.greater(pad, o.scalar(0)), 'float32')), 1);
      m1 = o.mul(m1, nonPad);
      m2 = o.mul(m2, nonPad);
    }
    // Capacity: ceil(fraction * N) in eval (N possibly dynamic).
    let capacity: Dim<T>;
    if (!opts.training && this.cfg.moeEvalCapacityTokenFraction > 0) {
      capacity = typeof N === 'number'
        ? Math.ceil(this.cfg.moeEvalCapacityTokenFraction * N)
        : o.ceil(o.mul(o.cast(N, 'float32'), o.scalar(this.cfg.moeEvalCapacityTokenFraction)));
    } else if (this.cfg.expertCapacity !== null) {
      capacity = this.cfg.expertCapacity;
    } else {
      capacity = typeof N === 'number'
        ? 2 * Math.ceil(N / E)
        : o.mul(o.scalar(2), o.ceil(o.div(o.cast(N, 'float32'), o.scalar(E))));
    }
    const capT = typeof capacity === 'number' ? o.scalar(capacity) : capacity;
    let before1: T;
    let before2: T;
    if (this.cfg.batchPrioritizedRouting) {
      // rank order by decreasing max prob (ties: token order): earlier[t, s] = 1 if s is visited before t.
      const mp = o.max(probs, 1, true); // [N, 1]
      const mpRow = o.transpose(mp, [1, 0]); // [1, N]
      const idx = o.cast(o.range(0, N), 'float32');
      const idxCol = o.expandDims(idx, 1);
      const idxRow = o.expandDims(idx, 0);
      const earlier = o.logicalOr(o.greater(mpRow, mp), o.logicalAnd(o.equal(mpRow, mp), o.less(idxRow, idxCol)));
      const earlierF = o.cast(earlier, 'float32');
      before1 = o.matMul(earlierF, m1);
      before2 = o.matMul(earlierF, m2);
    } else {
      before1 = o.cumsum(m1, 0, true);
      before2 = o.cumsum(m2, 0, true);
    }
    const loc2 = o.add(before2, o.sum(m1, 0, true));
    const k1 = o.mul(m1, o.cast(o.less(before1, capT), 'float32'));
    const k2 = o.mul(m2, o.cast(o.less(loc2, capT), 'float32'));
    const s1 = o.sum(k1, 1, true);
    const s2 = o.sum(k2, 1, true);
    const cw = combineWeights(o, probs, oh1, oh2, s1, s2, this.cfg.normalizeRouterProbBeforeDropping, false);
    const expertIds = o.constant(Array.from({ length: E }, (_, e) => e), [E, 1]);
    const top1Index = o.cast(o.squeeze(o.matMul(k1, expertIds), [1]), 'int32');
    return { logits, probs, combineWeights: cw, top1Index, capacity };
  }

}
