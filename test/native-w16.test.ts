/**
 * 16-bit linear weights (backend/w16-weights.ts, backend/native-w16.ts, native/src/w16*):
 * rounding against convert/dtypes.ts (torch's round to nearest even), and the native kernels
 * (bf16 / f16 widened in registers, float32 sums) against tfjs' float32 matMul of the same
 * widened weights, on odd shapes (one row, k and n not multiples of the vector width,
 * batches), the transposed product (input gradients), both instruction sets; the AVX-512 BF16
 * dot-product mode (bf16 activations) within its measured bound.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { useBackend } from './helpers.js';
import { nativeAddon } from '../backend/native.js';
import { toW16Bits, w16FromKernel, w16FromRows, w16ToKernel, w16ToFloat, type W16Dtype } from '../backend/w16-weights.js';
import { W16Linear, nativeW16Bytes } from '../backend/native-w16.js';
import { floatToBf16Bits, floatToHalfBits } from '../convert/dtypes.js';

test.before(async () => {
  await useBackend('wasm');
});

function randn(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

const DTYPES: W16Dtype[] = ['bfloat16', 'float16'];
const SHAPES: [number, number, number][] = [
  [1, 17, 5],
  [1, 300, 260],
  [3, 64, 37],
  [5, 1030, 9],
  [9, 33, 300],
  [130, 71, 67],
];

test('16-bit rounding: the bits convert/dtypes.ts writes (round to nearest even), widening exact', () => {
  const rng = new Rng(1);
  const v = randn(rng, 2000).map((x, i) => (i % 7 === 0 ? x * 1e-6 : i % 11 === 0 ? x * 7e4 : x));
  v[0] = 0;
  v[1] = -0;
  v[2] = Infinity;
  v[3] = 1e-8; // below half's subnormals
  for (const [dtype, ref] of [
    ['bfloat16', floatToBf16Bits],
    ['float16', floatToHalfBits],
  ] as const) {
    const bits = toW16Bits(v, dtype);
    for (let i = 0; i < v.length; i++) assert.is(bits[i], ref(v[i]), `${dtype} ${v[i]}`);
    for (let i = 0; i < v.length; i++) {
      const back = w16ToFloat(bits[i], dtype);
      assert.is(toW16Bits(Float32Array.of(back), dtype)[0], bits[i], `${dtype}: widening then rounding is the identity`);
    }
  }
  // Layouts: [in, out] kernel -> [out, in] bits -> [in, out] floats.
  const k = 5;
  const n = 3;
  const w = randn(rng, k * n);
  const h = w16FromKernel(w, k, n, 'bfloat16');
  const back = w16ToKernel(h);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) assert.is(h.bits[j * k + i], floatToBf16Bits(w[i * n + j]));
  for (let i = 0; i < w.length; i++) assert.ok(Math.abs(back[i] - w[i]) <= Math.abs(w[i]) * 2 ** -8, 'bf16: relative error <= 2^-8');
});

for (const isa of ['best', 'avx2'] as const) {
  test(`W16Linear (${isa}) equals x · widened W and dY · Wᵀ on odd shapes; 2 bytes a weight in native memory; tensors flat`, async () => {
    await useBackend('wasm');
    const addon = nativeAddon();
    if (addon === undefined) return;
    addon.setIsa(isa);
    try {
      const rng = new Rng(2);
      for (const dtype of DTYPES) {
        for (const [rows, k, n] of SHAPES) {
          const h = w16FromRows(randn(rng, n * k), n, k, dtype);
          const x = randn(rng, rows * k);
          const dy = randn(rng, rows * n);
          const before = nativeW16Bytes();
          const lin = new W16Linear(h);
          assert.ok(lin.native, 'runs natively');
          assert.is(nativeW16Bytes() - before, 2 * n * k, '2 bytes a weight in native memory');
          assert.equal(lin.read().bits, h.bits, 'stored bits read back unchanged');
          const tensorsBefore = tf.memory().numTensors;
          const xt = tf.tensor(x, [1, rows, k]);
          const dyt = tf.tensor(dy, [1, rows, n]);
          // The gradient through tf.customGrad: dL/dx for L = sum(y * dy) is dy · Wᵀ.
          const { value: y, grad } = tf.valueAndGrad((t: tf.Tensor) => tf.sum(tf.mul(lin.apply(t), dyt)))(xt);
          const yOnly = lin.apply(xt);
          assert.equal(yOnly.shape, [1, rows, n]);
          const got = yOnly.dataSync();
          const gotGrad = grad.dataSync();
          const wf = w16ToKernel(h);
          const [want, wantGrad] = tf.tidy(() => {
            const wt = tf.tensor2d(wf, [k, n]);
            return [tf.matMul(tf.tensor2d(x, [rows, k]), wt).dataSync(), tf.matMul(tf.tensor2d(dy, [rows, n]), wt, false, true).dataSync()];
          });
          for (let i = 0; i < want.length; i++) {
            assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `${isa} ${dtype} ${rows}x${k}x${n} [${i}]: ${got[i]} vs ${want[i]}`);
          }
          for (let i = 0; i < wantGrad.length; i++) {
            assert.ok(Math.abs(gotGrad[i] - wantGrad[i]) <= 1e-4 * (1 + Math.abs(wantGrad[i])), `${isa} ${dtype} grad ${rows}x${k}x${n} [${i}]: ${gotGrad[i]} vs ${wantGrad[i]}`);
          }
          tf.dispose([xt, dyt, y, grad, yOnly]);
          assert.is(tf.memory().numTensors, tensorsBefore, 'tensors flat');
          lin.dispose();
        }
      }
    } finally {
      addon.setIsa('best');
    }
  });
}

test('bf16dot mode (AVX-512 BF16, bf16 activations): within 2^-8 relative of the float32 product, float mode the default', async () => {
  await useBackend('wasm');
  const addon = nativeAddon();
  if (addon === undefined || addon.isa() !== 'avx512') return;
  if (process.env.POLYGLOT_BF16_ACTIVATIONS !== '1') assert.is(addon.w16Mode(), 'float', 'float activations by default');
  if (addon.w16Mode('bf16dot') !== 'bf16dot') return; // the CPU lacks avx512_bf16
  try {
    const rng = new Rng(3);
    for (const [rows, k, n] of SHAPES) {
      const h = w16FromRows(randn(rng, n * k), n, k, 'bfloat16');
      const x = randn(rng, rows * k);
      const lin = new W16Linear(h);
      const xt = tf.tensor2d(x, [rows, k]);
      const y = lin.apply(xt);
      const got = y.dataSync();
      const want = tf.tidy(() => tf.matMul(xt, tf.tensor2d(w16ToKernel(h), [k, n])).dataSync());
      // bf16 activations: each product's relative error <= 2^-8, so |err| <= 2^-8 * sum_k |x w| (~ sqrt(k) scale here).
      let worst = 0;
      for (let i = 0; i < want.length; i++) {
        const bound = 2 ** -8 * Math.sqrt(k) * 4;
        worst = Math.max(worst, Math.abs(got[i] - want[i]));
        assert.ok(Math.abs(got[i] - want[i]) <= bound, `${rows}x${k}x${n} [${i}]: ${got[i]} vs ${want[i]}`);
      }
      assert.ok(worst > 0, 'bf16 activations change the numbers (the bf16dot kernel ran)');
      tf.dispose([xt, y]);
      lin.dispose();
    }
  } finally {
    addon.w16Mode('float');
  }
});

test.run();
