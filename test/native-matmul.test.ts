/**
 * Native BatchMatMul / _FusedMatMul (backend/native-matmul.ts) against tfjs' reference
 * cpu kernels on odd shapes: one row, sizes that are not multiples of the vector width,
 * every transpose, batches and broadcasts, bias and activations; both kernel sets
 * (AVX-512 and AVX2) on a CPU that has both. On a machine with a C++ compiler the addon
 * must have been built by `npm install`: a silent build failure fails this test.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { cpuThenWasm, useBackend, type HostOutput } from './helpers.js';
import { nativeAddon, nativeStatus } from '../backend/native.js';
import { nativeMatMulCalls, setNativeMatMulEnabled } from '../backend/native-matmul.js';

await useBackend('wasm');

function hasCompiler(): boolean {
  return spawnSync('g++', ['--version'], { stdio: 'ignore' }).status === 0;
}

test('the addon is built and active wherever a C++ compiler exists (unless POLYGLOT_NATIVE=0)', () => {
  if (process.env.POLYGLOT_NATIVE === '0') {
    assert.is(nativeStatus().active, false);
    assert.match(nativeStatus().line, /POLYGLOT_NATIVE=0/);
    return;
  }
  if (hasCompiler() || process.env.POLYGLOT_REQUIRE_NATIVE === '1') {
    assert.ok(nativeStatus().active, `g++ is present but ${nativeStatus().line}`);
    assert.match(nativeStatus().line, /^native kernels: (avx512|avx2), \d+ threads$/);
  }
});

function randn(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.normal());
}

function assertClose(actual: HostOutput[], expected: HostOutput[], what: string): void {
  for (let i = 0; i < expected.length; i++) {
    assert.equal(actual[i].shape, expected[i].shape, `${what}: shape`);
    let worst = 0;
    for (let j = 0; j < expected[i].values.length; j++) {
      const e = expected[i].values[j];
      worst = Math.max(worst, Math.abs(actual[i].values[j] - e) / (1 + Math.abs(e)));
    }
    // float32 sums of up to ~1000 products of N(0,1) values, in another order than the cpu kernel.
    assert.ok(worst <= 2e-5, `${what}: max relative error ${worst}`);
  }
}

type Case = { a: number[]; b: number[]; ta: boolean; tb: boolean };

/** [batch..., m, k] x [batch..., k, n] in every transpose combination. */
function cases(aOuter: number[], bOuter: number[], m: number, k: number, n: number): Case[] {
  const out: Case[] = [];
  for (const ta of [false, true]) {
    for (const tb of [false, true]) {
      out.push({ a: [...aOuter, ...(ta ? [k, m] : [m, k])], b: [...bOuter, ...(tb ? [n, k] : [k, n])], ta, tb });
    }
  }
  return out;
}

const SHAPES: [number[], number[], number, number, number][] = [
  [[], [], 1, 1, 1],
  [[], [], 1, 300, 257], // one row (decode): wide strips + a ragged edge
  [[], [], 2, 33, 600], // two rows, n past one strip
  [[], [], 4, 130, 47],
  [[], [], 5, 17, 31], // rows past the dot path, n below a vector
  [[], [], 23, 70, 65],
  [[], [], 130, 260, 300], // packed path, k past one block, ragged tiles
  [[], [], 600, 70, 1], // many rows times one column (embedding · h as a column)
  [[], [], 45, 20, 3],
  [[3], [3], 7, 9, 40], // batched (attention-like)
  [[2, 3], [3], 1, 64, 20], // broadcast: B's batch is a suffix
  [[2, 1], [1, 3], 5, 6, 7], // broadcast on both sides
  [[4], [], 3, 16, 33], // batched A times a plain B
  [[], [2], 18, 5, 4],
];

for (const isa of ['best', 'avx2'] as const) {
  test(`BatchMatMul (${isa}) equals the cpu kernel on odd shapes, transposes, batches, broadcasts`, async () => {
    const native = nativeAddon();
    if (native === undefined) return;
    native.setIsa(isa);
    try {
      const rng = new Rng(7);
      for (const [ao, bo, m, k, n] of SHAPES) {
        for (const c of cases(ao, bo, m, k, n)) {
          const av = randn(rng, c.a.reduce((x, y) => x * y, 1));
          const bv = randn(rng, c.b.reduce((x, y) => x * y, 1));
          const what = `${isa} [${c.a}]${c.ta ? 'ᵀ' : ''} x [${c.b}]${c.tb ? 'ᵀ' : ''}`;
          // The reference broadcasts explicitly: tfjs' cpu kernel maps batch i to i mod
          // batchA / i mod batchB, wrong for broadcasts on both sides ([2,1] x [1,3]).
          const outer = tf.broadcast_util.assertAndGetBroadcastShape(ao, bo);
          const full = (v: number[], shape: number[]): tf.Tensor => tf.broadcastTo(tf.tensor(v, shape), [...outer, ...shape.slice(-2)]);
          const { expected, actual } = await cpuThenWasm(
            what,
            () => [tf.matMul(tf.tensor(av, c.a), tf.tensor(bv, c.b), c.ta, c.tb)],
            () => [tf.matMul(full(av, c.a), full(bv, c.b), c.ta, c.tb)],
          );
          assertClose(actual, expected, what);
        }
      }
      assert.ok(nativeMatMulCalls >= SHAPES.length * 4, `the addon ran (${nativeMatMulCalls} products)`);
    } finally {
      native.setIsa('best');
    }
  });
}

test('_FusedMatMul: bias (per column and scalar) and every activation the addon fuses', async () => {
  if (nativeAddon() === undefined) return;
  const rng = new Rng(9);
  const acts = ['linear', 'relu', 'relu6', 'leakyrelu', 'elu', 'sigmoid'] as const;
  for (const [m, k, n] of [[1, 40, 37], [19, 33, 70]]) {
    for (const act of acts) {
      for (const biasShape of [[n], [1]]) {
        const av = randn(rng, m * k);
        const bv = randn(rng, k * n);
        const bias = randn(rng, biasShape[0]);
        const what = `fused ${m}x${k}x${n} ${act} bias [${biasShape}]`;
        const fn = (): tf.Tensor[] => [
          tf.fused.matMul({ a: tf.tensor(av, [m, k]), b: tf.tensor(bv, [n, k]), transposeB: true, bias: tf.tensor(bias, biasShape), activation: act, leakyreluAlpha: 0.3 }),
        ];
        const { expected, actual } = await cpuThenWasm(what, fn);
        assertClose(actual, expected, what);
      }
    }
  }
});

test('results land in the tensor in place after heap growth (zero-copy heap access)', async () => {
  if (nativeAddon() === undefined) return;
  await useBackend('wasm');
  const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const b = tf.tensor2d([5, 6, 7, 8], [2, 2]);
  const before = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  // Grow the heap by allocating (and keeping) a large tensor, then multiply again.
  const big = tf.zeros([before / 4 + 1024]);
  const after = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
  assert.ok(after > before, 'heap grew');
  const c = tf.matMul(a, b);
  assert.equal(Array.from(c.dataSync()), [19, 22, 43, 50]);
  tf.dispose([a, b, big, c]);
});

test('switching the native path off falls back to the wasm kernels with the same results', async () => {
  if (nativeAddon() === undefined) return;
  await useBackend('wasm');
  const rng = new Rng(3);
  const av = randn(rng, 6 * 50);
  const bv = randn(rng, 50 * 9);
  const product = (): number[] => tf.tidy(() => Array.from(tf.matMul(tf.tensor(av, [6, 50]), tf.tensor(bv, [50, 9])).dataSync()));
  const onNative = product();
  setNativeMatMulEnabled(false);
  try {
    const onWasm = product();
    for (let i = 0; i < onWasm.length; i++) assert.ok(Math.abs(onWasm[i] - onNative[i]) < 1e-4, `entry ${i}`);
  } finally {
    setNativeMatMulEnabled(true);
  }
});

test.run();
