/**
 * The routing plan of NLLB-MoE's top-2 router as a pure function (like fairseq's `top2gating`):
 * router probabilities and logits of N tokens plus options in, per token the chosen experts, their
 * capacity slots and whether each survives (capacity, padding, the random 2nd-expert policies),
 * plus statistics (drops, usage, entropy) out. Host arrays only: no tensors, no module state.
 * The differentiable gates are computed from this plan by layers/moe/router.ts.
 */
import { PolyglotError } from '../../core/errors.js';
import type { Rng } from '../../core/random.js';
/** Host-side routing statistics (eager mode). */
export interface RoutingStats {
  /** Tokens in the call (padding included). */
  tokens: number;
  /** Tokens taking part in routing (not padding-masked). */
  routedTokens: number;
  /** Expert assignments before capacity (top-1 + kept top-2 of routed tokens). */
  assignments: number;
  /** Assignments dropped because their slot was >= capacity. */
  droppedAssignments: number;
  /** Routed tokens that lost every expert to capacity (their FFN output is 0). */
  droppedTokens: number;
  /** Surviving assignments per expert. */
  expertUsage: Int32Array;
  /** Mean entropy (nats) of the router softmax over routed tokens. */
  routerEntropy: number;
  capacity: number;
}

/** The routing decisions of one call (host arrays, eager mode). */
export interface RoutingPlan {
  numTokens: number;
  numExperts: number;
  capacity: number;
  top1: Int32Array;
  top2: Int32Array;
  /** 1 when that assignment survived padding masking, the random policy and capacity. */
  keep1: Uint8Array;
  keep2: Uint8Array;
  /** Use `p2` raw (not normalised) as the 2nd gate: HF's bug with policy "random" + normalise-before. */
  rawSecondGate: boolean;
  normalizeBeforeDropping: boolean;
  /** HF's returned top-1 index: the surviving top-1 expert, 0 when dropped / masked. */
  top1Index: Int32Array;
  /** Tokens per expert (ascending token order) with the gate slot (1 or 2) they use. */
  expertTokens: Int32Array[];
  expertSlots: Uint8Array[];
  stats: RoutingStats;
}

export interface PlanOptions {
  capacity: number;
  /** "all" | "sampling" | "random" as effective for this call (random ones only when allowed). */
  policy: string;
  normalizeBeforeDropping: boolean;
  batchPrioritized: boolean;
  /** 1 = padding (already resolved against routerIgnorePaddingTokens). */
  paddingMask?: ArrayLike<number>;
  rng?: Rng;
}

function argmax(row: ArrayLike<number>, off: number, n: number, exclude = -1): number {
  let best = -1;
  let bv = -Infinity;
  for (let e = 0; e < n; e++) {
    if (e === exclude) continue;
    const v = row[off + e];
    // torch.argmax: first index of the maximum (NaN wins, not expected here)
    if (best < 0 || v > bv) {
      best = e;
      bv = v;
    }
  }
  return best;
}

/** Uniform in (0, 1) from the Rng (avoids log(0) in Gumbel noise). */
function openUniform(rng: Rng): number {
  let u = rng.uniform();
  while (u <= 0) u = rng.uniform();
  return u;
}

/**
 * HF's routing decisions, on host arrays `probs` / `logits` ([N, E] row-major, float32).
 * Exactly `route_tokens`: top-1 from probs, top-2 from logits without the top-1 column
 * (Gumbel noise first for "sampling"), "random" keeps the 2nd iff 2*p2 > U, padding masking,
 * capacity slots (top-2 slots after all pre-capacity top-1 assignments of the expert).
 */
export function planRouting(probs: ArrayLike<number>, logits: ArrayLike<number>, numTokens: number, numExperts: number, opts: PlanOptions): RoutingPlan {
  const N = numTokens;
  const E = numExperts;
  if ((opts.policy === 'sampling' || opts.policy === 'random') && !opts.rng) {
    throw new PolyglotError(`router: second_expert_policy "${opts.policy}" needs a random generator (pass rng)`);
  }
  const top1 = new Int32Array(N);
  const top2 = new Int32Array(N);
  const m1 = new Uint8Array(N);
  const m2 = new Uint8Array(N);
  const noisy = new Float64Array(E);
  for (let t = 0; t < N; t++) {
    top1[t] = argmax(probs, t * E, E);
    if (opts.policy === 'sampling') {
      // HF adds Gumbel(0,1) noise to the logits in place before choosing the 2nd expert.
      for (let e = 0; e < E; e++) noisy[e] = logits[t * E + e] - Math.log(-Math.log(openUniform(opts.rng!)));
      top2[t] = E > 1 ? argmax(noisy, 0, E, top1[t]) : 0;
    } else {
      top2[t] = E > 1 ? argmax(logits, t * E, E, top1[t]) : 0;
    }
    // With one expert HF's 2nd choice is expert 0 again (argmax of an all -inf row): a second
    // assignment that takes a slot after all top-1s and adds its gate to the same column.
    m1[t] = 1;
    m2[t] = 1;
    if (opts.policy === 'random' && m2[t]) {
      const p2 = probs[t * E + top2[t]];
      m2[t] = 2 * p2 > opts.rng!.uniform() ? 1 : 0;
    }
    if (opts.paddingMask && opts.paddingMask[t]) {
      m1[t] = 0;
      m2[t] = 0;
    }
  }
  // Visiting order: flattened (batch, seq), or decreasing max probability (batch_prioritized_routing).
  const order = new Int32Array(N);
  for (let t = 0; t < N; t++) order[t] = t;
  if (opts.batchPrioritized) {
    const maxp = new Float64Array(N);
    for (let t = 0; t < N; t++) maxp[t] = probs[t * E + top1[t]];
    // HF's argsort is not stable; ties keep token order here.
    const sorted = Array.from(order).sort((a, b) => maxp[b] - maxp[a] || a - b);
    order.set(sorted);
  }
  const total1 = new Int32Array(E);
  for (let t = 0; t < N; t++) if (m1[t]) total1[top1[t]]++;
  const count1 = new Int32Array(E);
  const count2 = new Int32Array(E);
  const keep1 = new Uint8Array(N);
  const keep2 = new Uint8Array(N);
  const cap = opts.capacity;
  for (const t of order) {
    if (m1[t]) {
      const loc = count1[top1[t]]++;
      keep1[t] = loc < cap ? 1 : 0;
    }
    if (m2[t]) {
      const loc = count2[top2[t]]++ + total1[top2[t]];
      keep2[t] = loc < cap ? 1 : 0;
    }
  }
  const top1Index = new Int32Array(N);
  const lists: number[][] = Array.from({ length: E }, () => []);
  const slots: number[][] = Array.from({ length: E }, () => []);
  const usage = new Int32Array(E);
  let routed = 0;
  let assignments = 0;
  let dropped = 0;
  let droppedTokens = 0;
  let entropy = 0;
  for (let t = 0; t < N; t++) {
    if (keep1[t]) top1Index[t] = top1[t];
    const isRouted = !(opts.paddingMask && opts.paddingMask[t]);
    if (isRouted) {
      routed++;
      let h = 0;
      for (let e = 0; e < E; e++) {
        const p = probs[t * E + e];
        if (p > 0) h -= p * Math.log(p);
      }
      entropy += h;
      assignments += m1[t] + m2[t];
      dropped += m1[t] - keep1[t] + m2[t] - keep2[t];
      if (!keep1[t] && !keep2[t]) droppedTokens++;
    }
    if (keep1[t]) {
      lists[top1[t]].push(t);
      slots[top1[t]].push(1);
      usage[top1[t]]++;
    }
    if (keep2[t]) {
      usage[top2[t]]++;
      // Same expert as the surviving top-1 (one expert only): HF runs it once with the summed gate.
      if (!(keep1[t] && top2[t] === top1[t])) {
        lists[top2[t]].push(t);
        slots[top2[t]].push(2);
      }
    }
  }
  return {
    numTokens: N,
    numExperts: E,
    capacity: cap,
    top1,
    top2,
    keep1,
    keep2,
    rawSecondGate: opts.policy === 'random' && opts.normalizeBeforeDropping,
    normalizeBeforeDropping: opts.normalizeBeforeDropping,
    top1Index,
    expertTokens: lists.map((l) => Int32Array.from(l)),
    expertSlots: slots.map((s) => Uint8Array.from(s)),
    stats: {
      tokens: N,
      routedTokens: routed,
      assignments,
      droppedAssignments: dropped,
      droppedTokens,
      expertUsage: usage,
      routerEntropy: routed ? entropy / routed : 0,
      capacity: cap,
    },
  };
}
