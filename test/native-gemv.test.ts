/**
 * The decode GEMVs (1-4 rows) of the native int8 and 16-bit kernels (native/src/gemm_avx*.cc
 * q8dot, w16_avx512.cc w16dot: two accumulator sets for one row, prefetch two channel groups
 * ahead) against a float64 product of the same dequantised / widened weights: k below, at and
 * just past the 32-wide unrolled step (the one-row tail), n not a multiple of the 4-channel
 * group nor of a task's chunk, both instruction sets, 1 and 2 threads (every output bit the
 * same: a channel's sum never depends on the thread count), back-to-back calls identical, and a
 * [k, 3k] concatenated weight (fused q/k/v) equal bit for bit to the three separate products.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { useBackend } from './helpers.js';
import { nativeAddon } from '../backend/native.js';
import { dequantizeInt8, quantizeInt8Rows } from '../backend/int8-weights.js';
import { Int8Linear } from '../backend/native-int8.js';
import { W16Linear } from '../backend/native-w16.js';
import { w16FromRows, w16ToKernel } from '../backend/w16-weights.js';

test.before(async () => {
  await useBackend('wasm');
});

function randn(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

interface Gemv {
  name: string;
  apply: (x: tf.Tensor) => tf.Tensor;
  /** The weight the kernel multiplies by, [k, n] float32. */
  kernel: Float32Array;
  dispose: () => void;
}

/** int8, bfloat16 and float16 linears of the same [n, k] rows. */
function gemvs(rows: Float32Array, n: number, k: number): Gemv[] {
  const q8 = quantizeInt8Rows(rows, n, k);
  const i8 = new Int8Linear(q8);
  const out: Gemv[] = [{ name: 'int8', apply: (x) => i8.apply(x), kernel: dequantizeInt8(q8), dispose: () => i8.dispose() }];
  for (const dtype of ['bfloat16', 'float16'] as const) {
    const h = w16FromRows(rows, n, k, dtype);
    const lin = new W16Linear(h);
    out.push({ name: dtype, apply: (x) => lin.apply(x), kernel: w16ToKernel(h), dispose: () => lin.dispose() });
  }
  return out;
}

/** Asserts y [m, n] against x · W in float64, within float32 summation error of sum_k |x w|. */
function assertProduct(label: string, x: Float32Array, w: Float32Array, m: number, k: number, n: number, y: Float32Array): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let abs = 0;
      for (let kk = 0; kk < k; kk++) {
        const p = x[i * k + kk] * w[kk * n + j];
        s += p;
        abs += Math.abs(p);
      }
      const got = y[i * n + j];
      if (!(Math.abs(got - s) <= 1e-5 * abs + 1e-30)) assert.unreachable(`${label} [${i},${j}]: ${got} vs ${s} (sum |xw| ${abs})`);
    }
  }
}

const SHAPES: [number, number, number][] = [
  // [rows, k, n]: k < 16, k = 16, one vector past, just under / at / past the 32-wide step.
  [1, 1, 3],
  [1, 15, 5],
  [1, 16, 4],
  [1, 17, 9],
  [1, 31, 7],
  [1, 32, 13],
  [1, 33, 6],
  [1, 47, 11],
  [1, 1030, 261],
  [2, 33, 9],
  [3, 100, 13],
  [4, 1030, 37],
  [1, 64, 4099],
];

for (const isa of ['best', 'avx2'] as const) {
  test(`decode GEMVs (${isa}): int8 / bf16 / f16, 1-4 rows, odd k and n, 1 and 2 threads equal bit for bit, within float32 error of float64`, async () => {
    const addon = nativeAddon();
    if (addon === undefined) return;
    const threads = addon.threads();
    addon.setIsa(isa);
    try {
      const rng = new Rng(11);
      for (const [m, k, n] of SHAPES) {
        const rows = randn(rng, n * k);
        const xs = randn(rng, m * k);
        const x = tf.tensor2d(xs, [m, k]);
        for (const g of gemvs(rows, n, k)) {
          const tensorsBefore = tf.memory().numTensors;
          const byThreads: Float32Array[] = [];
          for (const t of [1, 2]) {
            addon.setThreads(t);
            const y = g.apply(x);
            assert.equal(y.shape, [m, n]);
            byThreads.push(y.dataSync() as Float32Array);
            y.dispose();
          }
          const label = `${isa} ${g.name} ${m}x${k}x${n}`;
          assertProduct(label, xs, g.kernel, m, k, n, byThreads[0]);
          assert.equal(Array.from(byThreads[1]), Array.from(byThreads[0]), `${label}: 2 threads`);
          // back to back on 2 threads: the same bits every time
          for (let rep = 0; rep < 3; rep++) {
            const y = g.apply(x);
            const again = y.dataSync();
            y.dispose();
            for (let i = 0; i < again.length; i++) if (again[i] !== byThreads[0][i]) assert.unreachable(`${label} rep ${rep} [${i}]`);
          }
          assert.is(tf.memory().numTensors, tensorsBefore, 'tensors flat');
          g.dispose();
        }
        x.dispose();
      }
    } finally {
      addon.setIsa('best');
      addon.setThreads(threads);
    }
  });
}

test('a [k, 3k] concatenated weight (fused q/k/v) gives the three separate products bit for bit', async () => {
  const addon = nativeAddon();
  if (addon === undefined) return;
  const rng = new Rng(12);
  const k = 97;
  const d = 70; // not a multiple of the 4-channel group: a part's channels group differently when fused
  const parts = [randn(rng, d * k), randn(rng, d * k), randn(rng, d * k)];
  const fusedRows = new Float32Array(3 * d * k);
  parts.forEach((p, i) => fusedRows.set(p, i * d * k));
  for (const m of [1, 3]) {
    const x = tf.tensor2d(randn(rng, m * k), [m, k]);
    const fused = gemvs(fusedRows, 3 * d, k);
    const separate = parts.map((p) => gemvs(p, d, k));
    fused.forEach((g, f) => {
      const y = g.apply(x);
      const all = y.dataSync();
      y.dispose();
      separate.forEach((s, part) => {
        const yp = s[f].apply(x);
        const one = yp.dataSync();
        yp.dispose();
        for (let i = 0; i < m; i++)
          for (let j = 0; j < d; j++) if (all[i * 3 * d + part * d + j] !== one[i * d + j]) assert.unreachable(`${g.name} m=${m} part ${part} [${i},${j}]: ${all[i * 3 * d + part * d + j]} vs ${one[i * d + j]}`);
      });
    });
    for (const g of [...fused, ...separate.flat()]) g.dispose();
    x.dispose();
  }
});

test.run();
