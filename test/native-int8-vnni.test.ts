/**
 * The AVX-512 VNNI int8 kernel (native/src/q8_vnni.cc; opt-in, POLYGLOT_INT8_ACTIVATIONS=1):
 * activations quantized per row (s_a = max|a| / 127, round half to even, offset to u8),
 * integer dot products with the weights, `- 128 * colsum` correction, times s_a * scale.
 * Checked against the same arithmetic in JS on odd shapes (1 row, sizes not multiples of the
 * 64-byte vector, a tail past 4-row / 4-channel blocks): the integer sums are exact, so the
 * only differences are float32 rounding of the final products (bound 1e-6 relative).
 * Skipped (reported) on CPUs without avx512_vnni.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { useBackend } from './helpers.js';
import { nativeAddon } from '../backend/native.js';
import { quantizeInt8 } from '../backend/int8-weights.js';
import { Int8Linear } from '../backend/native-int8.js';

await useBackend('wasm');

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The VNNI kernel's arithmetic in JS (float32 where the kernel uses float32). */
function reference(x: Float32Array, m: number, k: number, q: Int8Array, scale: Float32Array, n: number): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    let mx = 0;
    for (let kk = 0; kk < k; kk++) mx = Math.max(mx, Math.abs(x[i * k + kk]));
    const sa = mx > 0 ? Math.fround(mx / 127) : 1;
    const inv = Math.fround(1 / sa);
    const qa = Array.from({ length: k }, (_, kk) => roundHalfEven(Math.fround(x[i * k + kk] * inv)));
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let kk = 0; kk < k; kk++) s += qa[kk] * q[j * k + kk];
      out[i * n + j] = Math.fround(s * Math.fround(sa * scale[j]));
    }
  }
  return out;
}

test('VNNI int8 x int8 kernel = its arithmetic in JS on odd shapes', () => {
  const addon = nativeAddon();
  if (addon === undefined || addon.isa() !== 'avx512' || addon.int8Mode('vnni') !== 'vnni') {
    console.log('  skipped: no avx512_vnni on this CPU (or no native addon)');
    addon?.int8Mode('float');
    return;
  }
  try {
    const rng = new Rng(21);
    for (const [m, k, n] of [
      [1, 37, 19],
      [1, 64, 1],
      [3, 100, 33],
      [5, 1030, 7],
      [6, 256, 300],
    ]) {
      const w = Float32Array.from({ length: k * n }, () => rng.normal());
      const qw = quantizeInt8(w, k, n);
      const x = Float32Array.from({ length: m * k }, () => rng.normal());
      const lin = new Int8Linear(qw);
      const xt = tf.tensor2d(x, [m, k]);
      const y = lin.apply(xt);
      const got = y.dataSync() as Float32Array;
      const want = reference(x, m, k, qw.q, qw.scale, n);
      let scale = 0;
      let diff = 0;
      for (let i = 0; i < want.length; i++) {
        scale = Math.max(scale, Math.abs(want[i]));
        diff = Math.max(diff, Math.abs(got[i] - want[i]));
      }
      assert.ok(diff <= 1e-6 * scale, `${m}x${k}x${n}: max diff ${diff} (scale ${scale})`);
      tf.dispose([xt, y]);
      lin.dispose();
    }
  } finally {
    addon.int8Mode('float');
  }
  assert.is(addon.int8Mode(), 'float', 'default restored: weight-only');
});

test.run();
