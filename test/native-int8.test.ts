/**
 * int8 weight-only linear products (backend/int8-weights.ts, backend/native-int8.ts):
 * quantization error bounds, and the native kernel (weights dequantised in registers)
 * against a float32 product with the dequantised weights, on odd shapes, both kernel sets.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { useBackend } from './helpers.js';
import { nativeAddon } from '../backend/native.js';
import { dequantizeInt8, quantizeInt8 } from '../backend/int8-weights.js';
import { Int8Linear, nativeInt8Bytes } from '../backend/native-int8.js';

await useBackend('wasm');

function randn(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

test('per-output-channel int8: every weight within half a step of its channel scale; zero channel stays zero', () => {
  const rng = new Rng(1);
  const k = 37;
  const n = 11;
  const w = randn(rng, k * n);
  for (let i = 0; i < k; i++) w[i * n + 4] = 0; // an all-zero output channel
  for (let i = 0; i < k; i++) w[i * n + 7] *= 100; // a channel with a much larger range
  const qw = quantizeInt8(w, k, n);
  assert.is(qw.q.length, k * n);
  const back = dequantizeInt8(qw);
  for (let j = 0; j < n; j++) {
    let maxAbs = 0;
    for (let i = 0; i < k; i++) maxAbs = Math.max(maxAbs, Math.abs(w[i * n + j]));
    if (j !== 4) assert.ok(Math.abs(qw.scale[j] - maxAbs / 127) <= 1e-6 * maxAbs, `scale ${j}`);
    for (let i = 0; i < k; i++) {
      assert.ok(Math.abs(back[i * n + j] - w[i * n + j]) <= qw.scale[j] / 2 + 1e-6 * qw.scale[j], `w[${i},${j}]`);
    }
  }
  for (let i = 0; i < k; i++) assert.is(back[i * n + 4], 0);
  // The largest weight of each channel maps to +-127 exactly.
  assert.ok(qw.q.some((v) => Math.abs(v) === 127));
});

for (const isa of ['best', 'avx2'] as const) {
  test(`Int8Linear (${isa}) equals x · dequantised W on odd shapes; weights in native memory; tensors flat`, async () => {
    await useBackend('wasm');
    const addon = nativeAddon();
    if (addon === undefined) return;
    addon.setIsa(isa);
    try {
      const rng = new Rng(2);
      for (const [rows, k, n] of [[1, 17, 5], [1, 300, 260], [3, 64, 37], [5, 1030, 9], [9, 33, 300]]) {
        const w = randn(rng, k * n);
        const x = randn(rng, rows * k);
        const qw = quantizeInt8(w, k, n);
        const before = nativeInt8Bytes();
        const lin = new Int8Linear(qw);
        assert.ok(lin.native, 'runs natively');
        // Stored in groups of 4 channels with k padded to 64 (native/src/q8.h): padding counts.
        const np = Math.ceil(n / 4) * 4;
        assert.is(nativeInt8Bytes() - before, np * Math.ceil(k / 64) * 64 + 4 * np, 'int8 bytes + scales in native memory');
        const tensorsBefore = tf.memory().numTensors;
        const xt = tf.tensor(x, [1, rows, k]);
        const y = lin.apply(xt);
        assert.equal(y.shape, [1, rows, n]);
        const got = y.dataSync();
        const want = tf.tidy(() => tf.matMul(tf.tensor2d(x, [rows, k]), tf.tensor2d(dequantizeInt8(qw), [k, n])).dataSync());
        for (let i = 0; i < want.length; i++) {
          assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `${isa} ${rows}x${k}x${n} [${i}]: ${got[i]} vs ${want[i]}`);
        }
        tf.dispose([xt, y]);
        assert.is(tf.memory().numTensors, tensorsBefore);
        lin.dispose();
      }
    } finally {
      addon.setIsa('best');
    }
  });
}

for (const isa of ['best', 'avx2'] as const) {
  test(`Int8Linear (${isa}) with the bias in the kernel: bit-equal to the product plus tfjs' add; gradients of x and bias`, async () => {
    await useBackend('wasm');
    const addon = nativeAddon();
    if (addon === undefined) return;
    addon.setIsa(isa);
    try {
      const rng = new Rng(3);
      for (const [rows, k, n] of [[1, 1024, 1030], [2, 17, 5], [3, 300, 260], [4, 64, 37], [7, 33, 300]]) {
        const qw = quantizeInt8(randn(rng, k * n), k, n);
        const lin = new Int8Linear(qw);
        const x = tf.tensor(randn(rng, rows * k), [1, rows, k]);
        const b = tf.tensor1d(randn(rng, n));
        const tensorsBefore = tf.memory().numTensors;
        const fused = lin.apply(x, b);
        const separate = tf.tidy(() => tf.add(lin.apply(x), b));
        assert.equal(fused.shape, [1, rows, n]);
        const got = fused.dataSync();
        const want = separate.dataSync();
        for (let i = 0; i < want.length; i++) assert.is(got[i], want[i], `${isa} ${rows}x${k}x${n} [${i}]`);
        tf.dispose([fused, separate]);
        // Gradients: dx as the bias-free product's, db = dy summed over rows.
        const dy = tf.tensor(randn(rng, rows * n), [1, rows, n]);
        const [gx, gb] = tf.grads((xx: tf.Tensor, bb: tf.Tensor) => tf.mul(lin.apply(xx, bb), dy))([x, b]);
        const [gx0] = tf.grads((xx: tf.Tensor) => tf.mul(lin.apply(xx), dy))([x]);
        const wantDb = tf.tidy(() => tf.sum(tf.reshape(dy, [rows, n]), 0).dataSync());
        assert.equal(Array.from(gx.dataSync()), Array.from(gx0.dataSync()), 'dx');
        assert.equal(Array.from(gb.dataSync()), Array.from(wantDb), 'db');
        tf.dispose([gx, gb, gx0, dy]);
        assert.is(tf.memory().numTensors, tensorsBefore);
        tf.dispose([x, b]);
        lin.dispose();
      }
    } finally {
      addon.setIsa('best');
    }
  });
}

test('thread pool: many back-to-back GEMVs and tiny products on 2 threads give the same numbers every time', async () => {
  await useBackend('wasm');
  const addon = nativeAddon();
  if (addon === undefined) return;
  const threads = addon.threads();
  addon.setThreads(2);
  try {
    const rng = new Rng(4);
    const k = 1024;
    const n = 4099; // not a multiple of the channel chunk: the last task is short
    const qw = quantizeInt8(randn(rng, k * n), k, n);
    const lin = new Int8Linear(qw);
    const x = tf.tensor(randn(rng, k), [1, 1, k]);
    const a = tf.tensor(randn(rng, 16 * 5 * 64), [1, 16, 5, 64]);
    const want = tf.tidy(() => tf.matMul(tf.tensor2d(x.dataSync(), [1, k]), tf.tensor2d(dequantizeInt8(qw), [k, n])).dataSync());
    const first = tf.tidy(() => lin.apply(x).dataSync());
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(first[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `[${i}]`);
    const tinyWant = tf.tidy(() => tf.matMul(a, a, false, true).dataSync());
    for (let rep = 0; rep < 200; rep++) {
      // alternate a parallel GEMV with a tiny product that runs on the caller
      const y = tf.tidy(() => lin.apply(x).dataSync());
      for (let i = 0; i < y.length; i++) if (y[i] !== first[i]) assert.unreachable(`rep ${rep} [${i}]: ${y[i]} vs ${first[i]}`);
      const t = tf.tidy(() => tf.matMul(a, a, false, true).dataSync());
      for (let i = 0; i < t.length; i++) if (t[i] !== tinyWant[i]) assert.unreachable(`tiny rep ${rep} [${i}]`);
    }
    tf.dispose([x, a]);
    lin.dispose();
  } finally {
    addon.setThreads(threads);
  }
});

test.run();
