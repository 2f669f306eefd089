import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import { SparseMLP, type SparseMLPConfig } from '../layers/moe/sparse-mlp.js';
import { useBackend } from './helpers.js';

await useBackend('wasm');

const base: SparseMLPConfig = {
  numExperts: 6,
  dModel: 16,
  ffnDim: 32,
  routerBias: false,
  secondExpertPolicy: 'all',
  normalizeRouterProbBeforeDropping: false,
  batchPrioritizedRouting: false,
  routerIgnorePaddingTokens: false,
  expertCapacity: 4,
  moeEvalCapacityTokenFraction: 0.2,
  activationFunction: 'relu',
  activationDropout: 0,
  moeTokenDropout: 0.2,
};

function randomize(m: SparseMLP, seed: number): void {
  m.hfParameters().forEach((p, i) => {
    const v = tf.randomNormal(p.variable.shape as number[], 0, 0.5, 'float32', seed + i);
    p.variable.write(v);
    v.dispose();
  });
}

/** eagerOps that take the graph code paths (dense-masked experts, tensor routing). */
const graphLikeOps: Ops<tf.Tensor> = { ...eagerOps, kind: 'graph' };

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 2e-5): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i] - b[i]) > tol * (1 + Math.abs(b[i]))) return false;
  return true;
}

for (const variant of [
  { name: 'default', cfg: {} },
  { name: 'batch-prioritized', cfg: { batchPrioritizedRouting: true } },
  { name: 'normalise before dropping', cfg: { normalizeRouterProbBeforeDropping: true } },
]) {
  test(`sparse dispatch equals the graph (dense-masked) path: ${variant.name}, with capacity drops and padding`, () => {
    const m = new SparseMLP('model.encoder.layers.1.ffn', { ...base, ...variant.cfg });
    randomize(m, 10);
    const x = tf.randomNormal([3, 10, 16], 0, 1, 'float32', 3);
    const pad = Array.from({ length: 30 }, (_, i) => (i % 10 >= 8 ? 1 : 0));
    const before = tf.memory().numTensors;
    const [eager, graph] = [eagerOps, graphLikeOps].map((o) =>
      tf.tidy(() => {
        const r = m.run(o, x, { training: false, paddingMask: pad, paddingTensor: tf.tensor1d(pad) });
        return {
          out: Array.from(r.output.dataSync()),
          cw: Array.from(r.router.combineWeights.dataSync()),
          idx: Array.from(r.router.top1Index.dataSync()),
          dropped: r.router.plan?.stats.droppedAssignments,
        };
      }),
    );
    assert.is(tf.memory().numTensors, before);
    assert.ok((eager.dropped ?? 0) > 0, 'the capacity (ceil(0.2 * 30) = 6) drops assignments');
    assert.equal(graph.idx, eager.idx);
    assert.ok(close(graph.cw, eager.cw), 'combine weights');
    assert.ok(close(graph.out, eager.out), 'outputs');
    // padding rows get no FFN output
    for (let t = 0; t < 30; t++) if (pad[t]) assert.ok(eager.out.slice(t * 16, t * 16 + 16).every((v) => v === 0));
    m.disposeParameters();
    x.dispose();
  });
}

test('experts compute only their routed tokens (cost follows the 2 chosen experts)', () => {
  const m = new SparseMLP('ffn', { ...base, numExperts: 16, moeEvalCapacityTokenFraction: 1 });
  randomize(m, 20);
  const rows: number[] = [];
  m.experts.forEach((e) => {
    const orig = e.run.bind(e);
    e.run = (<T>(o: Ops<T>, x: T, opts: Parameters<typeof orig>[2]) => {
      rows.push(o.shape(x)[0] as number);
      return orig(o, x, opts);
    }) as typeof e.run;
  });
  const x = tf.randomNormal([64, 16], 0, 1, 'float32', 4);
  tf.tidy(() => {
    m.run(eagerOps, x, { training: false });
  });
  assert.is(rows.reduce((a, b) => a + b, 0), 128, 'every token visits exactly 2 experts');
  assert.ok(rows.length <= 16);
  m.disposeParameters();
  x.dispose();
});

test('gradients reach the router classifier and the routed experts (training, seeded masking)', () => {
  const m = new SparseMLP('ffn', { ...base, expertCapacity: 64 });
  randomize(m, 30);
  const x = tf.randomNormal([2, 12, 16], 0, 1, 'float32', 5);
  const target = tf.randomNormal([2, 12, 16], 0, 1, 'float32', 6);
  const vars = m.hfParameters().map((p) => p.variable.read() as tf.Variable);
  const loss = (seed: number) => () =>
    tf.sum(tf.square(tf.sub(m.run(eagerOps, x, { training: true, rng: new Rng(seed) }).output, target))) as tf.Scalar;
  const { value, grads } = tf.variableGrads(loss(1), vars);
  const routerGrad = grads[(m.router.classifier.kernel.read() as tf.Variable).name];
  assert.ok(routerGrad && tf.tidy(() => tf.max(tf.abs(routerGrad)).dataSync()[0]) > 0, 'router gradient');
  const used = m.experts.filter((e) => {
    const g = grads[(e.fc1.kernel.read() as tf.Variable).name];
    return g && tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]) > 0;
  }).length;
  assert.ok(used >= 2);
  // seeded: same rng seed, same loss
  const v2 = tf.tidy(() => loss(1)().dataSync()[0]);
  assert.ok(Math.abs(v2 - value.dataSync()[0]) < 1e-4);
  value.dispose();
  tf.dispose(Object.values(grads));
  m.disposeParameters();
  tf.dispose([x, target]);
});

test.run();
