import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { eagerOps } from '../ops/eager.js';
import { combineWeights, Top2Router, type RouterConfig } from '../layers/moe/router.js';
import { planRouting, type PlanOptions } from '../layers/moe/routing-plan.js';
import { useBackend } from './helpers.js';

await useBackend('cpu');

function softmaxRows(logits: number[][]): Float32Array {
  const out: number[] = [];
  for (const r of logits) {
    const m = Math.max(...r);
    const e = r.map((x) => Math.exp(x - m));
    const s = e.reduce((a, b) => a + b, 0);
    out.push(...e.map((x) => x / s));
  }
  return Float32Array.from(out);
}

// t0..t2 pick expert 0 first; e0's capacity 2 cannot hold all three.
const LOGITS = [
  [3, 2, 0], // top1 0, top2 1
  [3, 0, 2], // top1 0, top2 2  (same max prob as t0)
  [5, 2, 0], // top1 0, top2 1  (highest max prob)
  [0, 3, 2], // top1 1, top2 2
  [2, 0, 3], // top1 2, top2 0
];
const flatLogits = Float32Array.from(LOGITS.flat());
const probs = softmaxRows(LOGITS);
const base: PlanOptions = { capacity: 2, policy: 'all', normalizeBeforeDropping: false, batchPrioritized: false };

test('top-1 / top-2 choice and capacity slots in token order (HF cumsum rule)', () => {
  const p = planRouting(probs, flatLogits, 5, 3, base);
  assert.equal(Array.from(p.top1), [0, 0, 0, 1, 2]);
  assert.equal(Array.from(p.top2), [1, 2, 1, 2, 0]);
  // e0 top-1 slots 0,1,2 -> t2 dropped; top-2 slots start after the expert's top-1 count:
  // t0->e1 slot 0+1, t1->e2 slot 0+1, t2->e1 slot 1+1 (drop), t3->e2 slot 1+1 (drop), t4->e0 slot 0+3 (drop).
  assert.equal(Array.from(p.keep1), [1, 1, 0, 1, 1]);
  assert.equal(Array.from(p.keep2), [1, 1, 0, 0, 0]);
  // HF's returned index: 0 for a dropped top-1.
  assert.equal(Array.from(p.top1Index), [0, 0, 0, 1, 2]);
  assert.is(p.stats.assignments, 10);
  assert.is(p.stats.droppedAssignments, 4);
  assert.is(p.stats.droppedTokens, 1);
  assert.equal(Array.from(p.stats.expertUsage), [2, 2, 2]);
  assert.equal(Array.from(p.expertTokens[0]), [0, 1]);
  assert.equal(Array.from(p.expertTokens[1]), [0, 3]);
  assert.equal(Array.from(p.expertTokens[2]), [1, 4]);
});

test('batch-prioritized routing visits tokens by decreasing max probability', () => {
  const p = planRouting(probs, flatLogits, 5, 3, { ...base, batchPrioritized: true });
  // t2 (max prob highest) takes e0's first slot, then t0 (tie with t1 broken by token order).
  assert.equal(Array.from(p.keep1), [1, 0, 1, 1, 1]);
  // top-2 of t2 (e1) now visited first: slot 0 + 1 top-1 -> kept; t0's e1 slot 2 -> dropped.
  assert.equal(Array.from(p.keep2), [0, 1, 1, 0, 0]);
  assert.equal(Array.from(p.top1Index), [0, 0, 0, 1, 2]);
});

test('padding tokens take no expert and no capacity', () => {
  const p = planRouting(probs, flatLogits, 5, 3, { ...base, paddingMask: [1, 0, 0, 0, 0] });
  assert.equal(Array.from(p.keep1), [0, 1, 1, 1, 1]);
  assert.equal(Array.from(p.keep2), [0, 1, 1, 0, 0]);
  assert.is(p.stats.routedTokens, 4);
  assert.is(p.stats.assignments, 8);
});

test('gates: normalise after dropping (default) vs before dropping', () => {
  const p = planRouting(probs, flatLogits, 5, 3, base);
  const run = (before: boolean) =>
    tf.tidy(() => {
      const o = eagerOps;
      const s1 = tf.tensor(Array.from(p.keep1), [5, 1], 'float32');
      const s2 = tf.tensor(Array.from(p.keep2), [5, 1], 'float32');
      const cw = combineWeights(o, tf.tensor(probs, [5, 3]), o.oneHot(tf.tensor1d(p.top1, 'int32'), 3), o.oneHot(tf.tensor1d(p.top2, 'int32'), 3), s1, s2, before, false);
      return Array.from(cw.dataSync());
    });
  const after = run(false);
  const before = run(true);
  const pr = (t: number, e: number) => probs[t * 3 + e];
  // t0 keeps both: identical either way.
  const g0 = pr(0, 0) / (pr(0, 0) + pr(0, 1));
  assert.ok(Math.abs(after[0] - g0) < 1e-6 && Math.abs(before[0] - g0) < 1e-6);
  // t3 lost its 2nd expert: after -> survivor weight 1; before -> p1/(p1+p2), the rest lost.
  assert.ok(Math.abs(after[3 * 3 + 1] - 1) < 1e-6);
  assert.ok(Math.abs(before[3 * 3 + 1] - pr(3, 1) / (pr(3, 1) + pr(3, 2))) < 1e-6);
  assert.is(after[3 * 3 + 2], 0);
  // t2 lost both: all zero.
  assert.equal(after.slice(6, 9), [0, 0, 0]);
});

test('policy "random": 2nd kept with probability min(1, 2 p2); seeded and reproducible', () => {
  const N = 4000;
  // p = [0.7, 0.2, 0.1]: keep prob 0.4 ; and [0.3, 0.6, 0.1] second is p2=0.3 -> 0.6
  const row = [Math.log(0.7), Math.log(0.2), Math.log(0.1)];
  const lg = Float32Array.from(Array.from({ length: N }, () => row).flat());
  const pb = softmaxRows(Array.from({ length: N }, () => row));
  const plan = (seed: number) => planRouting(pb, lg, N, 3, { ...base, capacity: 2 * N, policy: 'random', rng: new Rng(seed) });
  const a = plan(7);
  const kept = a.keep2.reduce((s, x) => s + x, 0) / N;
  assert.ok(Math.abs(kept - 0.4) < 0.03, `kept fraction ${kept}`);
  assert.equal(Array.from(plan(7).keep2), Array.from(a.keep2));
  assert.not.equal(Array.from(plan(8).keep2), Array.from(a.keep2));
  // Bug copied from HF: with normalise-before, the 2nd gate is raw p2.
  const nb = planRouting(pb, lg, N, 3, { ...base, capacity: 2 * N, policy: 'random', normalizeBeforeDropping: true, rng: new Rng(1) });
  assert.ok(nb.rawSecondGate);
});

test('policy "sampling": 2nd expert is a Gumbel-max sample over the other experts', () => {
  const N = 4000;
  const row = [5, 1, 1 + Math.log(2), 1]; // others in ratio 1 : 2 : 1
  const lg = Float32Array.from(Array.from({ length: N }, () => row).flat());
  const pb = softmaxRows(Array.from({ length: N }, () => row));
  const p = planRouting(pb, lg, N, 4, { ...base, capacity: 2 * N, policy: 'sampling', rng: new Rng(3) });
  const counts = [0, 0, 0, 0];
  p.top2.forEach((e) => counts[e]++);
  assert.is(counts[0], 0);
  assert.ok(Math.abs(counts[1] / N - 0.25) < 0.03, JSON.stringify(counts));
  assert.ok(Math.abs(counts[2] / N - 0.5) < 0.03, JSON.stringify(counts));
  assert.ok(Math.abs(counts[3] / N - 0.25) < 0.03, JSON.stringify(counts));
  assert.ok(p.top1.every((e) => e === 0));
});

const cfg: RouterConfig = {
  numExperts: 4,
  dModel: 8,
  routerBias: false,
  secondExpertPolicy: 'random',
  normalizeRouterProbBeforeDropping: false,
  batchPrioritizedRouting: false,
  routerIgnorePaddingTokens: false,
  expertCapacity: 8,
  moeEvalCapacityTokenFraction: 0.25,
};

test('capacity: eval fraction of the call, training = expert_capacity (no stale eval value)', () => {
  const r = new Top2Router('r', cfg);
  assert.is(r.capacityFor(33, false), 9);
  assert.is(r.capacityFor(30, false), 8);
  assert.is(r.capacityFor(33, true), 8);
  const r2 = new Top2Router('r2', { ...cfg, expertCapacity: null });
  assert.is(r2.capacityFor(33, true), 2 * Math.ceil(33 / 4));
  const x = tf.randomNormal([40, 8], 0, 1, 'float32', 5);
  r.classifier.kernel.write(tf.randomNormal([8, 4], 0, 1, 'float32', 6));
  const before = tf.memory().numTensors;
  const evalOut = tf.tidy(() => r.run(eagerOps, x, { training: false }).plan!.capacity);
  const trainOut = tf.tidy(() => r.run(eagerOps, x, { training: true, rng: new Rng(1) }).plan!.capacity);
  assert.is(evalOut, 10);
  assert.is(trainOut, 8);
  assert.is(tf.memory().numTensors, before);
  r.disposeParameters();
  r2.disposeParameters();
  x.dispose();
});

test('random policies: evaluation is deterministic unless HF behaviour is asked for', () => {
  const r = new Top2Router('r', { ...cfg, moeEvalCapacityTokenFraction: 1 });
  r.classifier.kernel.write(tf.randomNormal([8, 4], 0, 0.3, 'float32', 6));
  const x = tf.randomNormal([200, 8], 0, 1, 'float32', 5);
  const keep2 = (opts: Parameters<Top2Router['run']>[2]) => tf.tidy(() => Array.from(r.run(eagerOps, x, opts).plan!.keep2));
  const e1 = keep2({ training: false });
  assert.ok(e1.every((k) => k === 1), 'eval keeps every 2nd choice ("all")');
  assert.equal(keep2({ training: false }), e1);
  const hf = keep2({ training: false, hfRandomRoutingInEval: true, rng: new Rng(2) });
  assert.ok(hf.some((k) => k === 0), 'HF eval behaviour samples');
  const t1 = keep2({ training: true, rng: new Rng(9) });
  const t2 = keep2({ training: true, rng: new Rng(9) });
  assert.equal(t1, t2);
  assert.ok(t1.some((k) => k === 0));
  assert.throws(() => tf.tidy(() => { r.run(eagerOps, x, { training: true }); }), /needs a random generator/);
  r.disposeParameters();
  x.dispose();
});

test('policy "random" + normalise-before (HF bug kept): gates p1/(p1+p2) and raw p2; unknown policies act as "all"', () => {
  const cw = tf.tidy(() => {
    const o = eagerOps;
    const pr = tf.tensor2d([[0.6, 0.3, 0.1]]);
    const oh = (e: number) => o.oneHot(tf.tensor1d([e], 'int32'), 3);
    return Array.from(combineWeights(o, pr, oh(0), oh(1), tf.ones([1, 1]), tf.ones([1, 1]), true, true).dataSync());
  });
  assert.ok(Math.abs(cw[0] - 0.6 / 0.9) < 1e-6 && Math.abs(cw[1] - 0.3) < 1e-6 && cw[2] === 0, JSON.stringify(cw));
  const r = new Top2Router('r', { ...cfg, secondExpertPolicy: 'whatever' });
  assert.is(r.effectivePolicy({ training: true }), 'all');
  r.disposeParameters();
});

test.run();
