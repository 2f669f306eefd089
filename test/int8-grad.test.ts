/**
 * Gradients through a frozen int8 linear (QLoRA-style, backend/native-int8.ts): dL/dx comes
 * from the transposed int8 kernel (`tf.customGrad`), checked against tfjs' float32 gradient
 * of x · W with W the dequantised weight, on odd shapes (1 row, sizes not multiples of the
 * 16-lane vector, k past one 512-column task), both kernel sets. Bound: 1e-5 relative to
 * the gradient's largest entry (float32 sums in another order; measured ~1e-7).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { useBackend } from './helpers.js';
import { nativeAddon } from '../backend/native.js';
import { dequantizeInt8, quantizeInt8 } from '../backend/int8-weights.js';
import { Int8Linear } from '../backend/native-int8.js';
import { Linear, withInt8Weights } from '../layers/linear.js';

await useBackend('wasm');

function randn(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(b[i]));
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
  }
  return diff / scale;
}

const SHAPES: [number[], number, number][] = [
  [[1], 37, 19],
  [[3], 16, 33],
  [[2, 5], 1030, 7],
  [[4, 3], 64, 300],
];

for (const isa of ['best', 'avx2'] as const) {
  test(`int8 linear: dL/dx through the transposed int8 kernel = float32 gradient (${isa})`, () => {
    const addon = nativeAddon();
    if (addon === undefined) {
      assert.ok(true, 'no addon: the fallback multiplies float32 dequantised weights (tfjs gradients)');
      return;
    }
    addon.setIsa(isa);
    try {
      const rng = new Rng(11);
      for (const [lead, k, n] of SHAPES) {
        const q = quantizeInt8(randn(rng, k * n), k, n);
        const lin = new Int8Linear(q);
        assert.ok(lin.native);
        const w = tf.tensor2d(dequantizeInt8(q), [k, n]);
        const x = tf.tensor(randn(rng, lead.reduce((a, b) => a * b, 1) * k), [...lead, k]);
        const r = tf.tensor(randn(rng, lead.reduce((a, b) => a * b, 1) * n), [...lead, n]);
        const before = tf.memory().numTensors;
        const gotGrad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(lin.apply(v), r)))(x);
        const wantGrad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.reshape(tf.matMul(tf.reshape(v, [-1, k]), w), [...lead, n]), r)))(x);
        assert.equal(gotGrad.shape, x.shape);
        const rel = maxRelDiff(gotGrad.dataSync() as Float32Array, wantGrad.dataSync() as Float32Array);
        if (process.env.POLYGLOT_DEBUG) console.log(isa, lead, k, n, rel);
        assert.ok(rel <= 1e-5, `${isa} [${lead}] x ${k}x${n}: max rel diff ${rel}`);
        tf.dispose([gotGrad, wantGrad]);
        assert.is(tf.memory().numTensors, before, 'tensors flat');
        tf.dispose([w, x, r]);
        lin.dispose();
      }
    } finally {
      addon.setIsa('best');
    }
  });
}

test('a frozen int8 Linear inside a model: input gradient flows, bias still trains, no weight gradient', () => {
  const rng = new Rng(3);
  const k = 24;
  const n = 10;
  const wf = randn(rng, k * n);
  const lin = withInt8Weights((name) => (name === 'proj.weight' ? quantizeInt8(wf, k, n) : undefined), () => new Linear({ inFeatures: k, outFeatures: n, hfName: 'proj' }));
  assert.ok(lin.int8 !== undefined, 'int8 weight');
  assert.equal(lin.hfParameters().map((p) => p.name), ['proj.bias'], 'only the bias is a parameter');
  assert.throws(() => lin.kernel, /int8 in native memory/);
  const x = tf.tensor2d(randn(rng, 3 * k), [3, k]);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(lin.call(tf.tanh(x)) as tf.Tensor)) as tf.Scalar);
  assert.equal(Object.keys(grads).length, 1, 'one gradient: the bias');
  const gx = tf.grad((v: tf.Tensor) => tf.sum(tf.square(lin.call(v) as tf.Tensor)))(x);
  const wd = tf.tensor2d(dequantizeInt8(quantizeInt8(wf, k, n)), [k, n]);
  const want = tf.grad((v: tf.Tensor) => tf.sum(tf.square(tf.add(tf.matMul(v, wd), lin.bias!.read()))))(x);
  assert.ok(maxRelDiff(gx.dataSync() as Float32Array, want.dataSync() as Float32Array) <= 1e-5, 'input gradient');
  tf.dispose([value, ...Object.values(grads), gx, want, wd, x]);
  lin.bias!.dispose();
});

test.run();
