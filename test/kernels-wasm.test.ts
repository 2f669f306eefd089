/**
 * Kernels we register for wasm (backend/wasm-kernels.ts) against the cpu backend's
 * results on random inputs, forward and gradient, plus flat tensor counts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { useBackend, cpuThenWasm, outputsOn, type HostOutput } from './helpers.js';
import { setNativeMatMulEnabled } from '../backend/native-matmul.js';
import { lastMatMulPath, setBatchedStrategy, type MatMulPath } from '../backend/wasm-batch-matmul.js';

await useBackend('wasm'); // imports the wasm package and registers our kernels
// These tests cover the JS override; the native kernels (tested in native-matmul.test.ts) step aside.
test.before(() => setNativeMatMulEnabled(false));
test.after(() => setNativeMatMulEnabled(true));


function randn(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.normal());
}

function close(actual: HostOutput[], expected: HostOutput[], tol: number, what: string): void {
  assert.is(actual.length, expected.length, `${what}: output count`);
  for (let i = 0; i < actual.length; i++) {
    assert.equal(actual[i].shape, expected[i].shape, `${what}: output ${i} shape`);
    let worst = 0;
    let scale = 1e-6;
    for (let j = 0; j < expected[i].values.length; j++) {
      worst = Math.max(worst, Math.abs(actual[i].values[j] - expected[i].values[j]));
      scale = Math.max(scale, Math.abs(expected[i].values[j]));
    }
    assert.ok(worst <= tol * scale, `${what}: output ${i} max error ${worst} > ${tol} x ${scale}`);
  }
}

async function compare(fn: () => tf.Tensor[], tol: number, what: string, cpuFn = fn): Promise<void> {
  const { expected, actual } = await cpuThenWasm(what, fn, cpuFn);
  close(actual, expected, tol, what);
}

test('UnsortedSegmentSum: forward, out-of-range ids dropped, float and int32', async () => {
  const rng = new Rng(1);
  const x = randn(rng, 7 * 3 * 5);
  const ids = [0, 4, 4, -1, 2, 9, 0];
  await compare(() => [tf.unsortedSegmentSum(tf.tensor(x, [7, 3, 5]), tf.tensor1d(ids, 'int32'), 6)], 1e-6, 'uss float');
  await compare(() => [tf.unsortedSegmentSum(tf.tensor([1, 2, 3, 4, 5, 6], [3, 2], 'int32'), tf.tensor1d([2, 2, 0], 'int32'), 3)], 0, 'uss int');
  // exact values, independent of cpu
  const [r] = await outputsOn('wasm', () => [tf.unsortedSegmentSum(tf.tensor([1, 2, 3, 4, 5, 6], [3, 2]), tf.tensor1d([2, 2, 0], 'int32'), 3)]);
  assert.equal(r.values, [5, 6, 0, 0, 4, 6]);
});

test('embedding gather gradient on wasm equals cpu (repeated ids, axis 0 and 1)', async () => {
  const rng = new Rng(2);
  const table = randn(rng, 11 * 6);
  const dy = randn(rng, 2 * 4 * 6);
  const idx = [3, 3, 0, 10, 5, 3, 1, 0];
  await compare(() => {
    const e = tf.tensor(table, [11, 6]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor(idx, [2, 4], 'int32')), tf.tensor(dy, [2, 4, 6]))))(e);
    return [g];
  }, 1e-6, 'gather grad axis 0');
  await compare(() => {
    const e = tf.tensor(table, [6, 11]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.gather(t, tf.tensor1d([1, 1, 7], 'int32'), 1))))(e);
    return [g];
  }, 1e-6, 'gather grad axis 1');
});

test('OneHot float32 returns real floats (stock wasm returned int bit patterns)', async () => {
  const [r] = await outputsOn('wasm', () => [tf.oneHot(tf.tensor1d([1, 0, 3, -1], 'int32'), 3, 1, 0, 'float32')]);
  assert.equal(r.values, [0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  await compare(() => [tf.oneHot(tf.tensor([2, 0, 1, 2], [2, 2], 'int32'), 4, 5, -2, 'float32')], 0, 'onehot on/off');
  await compare(() => [tf.oneHot(tf.tensor1d([2, 0], 'int32'), 3)], 0, 'onehot int32 default');
});

const combos: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

function mmShapes(m: number, k: number, n: number, ta: boolean, tb: boolean, batchA: number[], batchB: number[]): [number[], number[]] {
  return [[...batchA, ...(ta ? [k, m] : [m, k])], [...batchB, ...(tb ? [n, k] : [k, n])]];
}

/**
 * op(A)·op(B) for all four transpose combos against cpu, with gradients when the batch
 * shapes are equal (tfjs-core's BatchMatMul gradient does not reduce broadcast batch
 * dims, on any backend: the ops layer avoids such products), and the strategy taken.
 */
async function checkMatMul(m: number, k: number, n: number, batchA: number[], batchB: number[], expectPath?: (ta: boolean, tb: boolean) => MatMulPath[]): Promise<void> {
  const withGrads = JSON.stringify(batchA) === JSON.stringify(batchB);
  const rng = new Rng(m * 1000 + k * 10 + n);
  for (const [ta, tb] of combos) {
    const [sa, sb] = mmShapes(m, k, n, ta, tb, batchA, batchB);
    const av = randn(rng, sa.reduce((p, q) => p * q, 1));
    const bv = randn(rng, sb.reduce((p, q) => p * q, 1));
    const what = `matMul ${JSON.stringify(sa)}x${JSON.stringify(sb)} ta=${ta} tb=${tb}`;
    const run = (tileTo?: number[]) => (): tf.Tensor[] => {
      let a = tf.tensor(av, sa);
      let b = tf.tensor(bv, sb);
      if (tileTo) {
        // explicit broadcast: the cpu kernel maps broadcast batch indices by flat modulo
        const pad = (s: number[]) => [...Array(tileTo.length + 2 - s.length).fill(1), ...s];
        a = tf.tile(tf.reshape(a, pad(sa)), [...tileTo.map((d, i) => d / pad(sa)[i]), 1, 1]);
        b = tf.tile(tf.reshape(b, pad(sb)), [...tileTo.map((d, i) => d / pad(sb)[i]), 1, 1]);
      }
      const f = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.sin(tf.matMul(x, y, ta, tb)));
      const y = tf.matMul(a, b, ta, tb);
      return withGrads ? [y, ...tf.grads(f)([a, b])] : [y];
    };
    const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
    await compare(run(), 2e-5, what, withGrads ? run() : run(outBatch));
    if (expectPath) {
      await tf.setBackend('wasm');
      tf.tidy(() => tf.matMul(tf.tensor(av, sa), tf.tensor(bv, sb), ta, tb));
      assert.ok(expectPath(ta, tb).includes(lastMatMulPath), `${what}: path ${lastMatMulPath}, expected ${expectPath(ta, tb)}`);
    }
  }
}

test('matMul 2-D, all transpose combos, with gradients; fast path taken', async () => {
  const fast = (): MatMulPath[] => ['gemm', 'gemm-swap'];
  await checkMatMul(5, 7, 3, [], [], fast);
  await checkMatMul(33, 17, 20, [], [], fast);
  // few rows times a tall transposed B (tied lm_head): (B·Aᵀ)ᵀ rewrite
  await checkMatMul(2, 16, 300, [], [], (ta, tb) => (tb ? ['gemm-swap'] : fast()));
  // many rows times a small transposed B: Bᵀ made explicit instead
  await checkMatMul(300, 16, 2, [], [], (ta, tb) => (tb && !ta ? ['gemm'] : ['gemm', 'gemm-swap']));
});

test('matMul batched A x unbatched B (folded into rows), rank 3 and 4', async () => {
  await checkMatMul(6, 8, 5, [3], [], () => ['gemm', 'gemm-swap']);
  await checkMatMul(4, 5, 6, [2, 3], [1], () => ['gemm', 'gemm-swap']);
});

test('matMul genuinely batched (attention shapes), both strategies equal cpu', async () => {
  for (const s of ['gemm', 'loop'] as const) {
    setBatchedStrategy(s);
    await checkMatMul(9, 8, 7, [4], [4], () => [s === 'gemm' ? 'batched-gemm' : 'batched-loop']);
    await checkMatMul(3, 4, 5, [2, 3], [2, 3]);
  }
  // multi-axis broadcast (always per-entry GEMMs: the stock loop gets it wrong), and an
  // unbatched A times a batched B (either strategy is right)
  await checkMatMul(3, 4, 5, [2, 1], [1, 3], () => ['batched-gemm']);
  await checkMatMul(3, 4, 5, [], [3], () => ['batched-loop']);
  setBatchedStrategy('auto');
  await checkMatMul(1, 16, 9, [6], [6]); // decode step: one query row per head
});

test('matMul with operands large enough for the tiled JS transpose (>= 131072 floats)', async () => {
  const rng = new Rng(7);
  for (const [ta, tb] of combos) {
    const [sa, sb] = mmShapes(70, 385, 350, ta, tb, [], []);
    const av = randn(rng, 70 * 385);
    const bv = randn(rng, 385 * 350);
    await compare(() => [tf.matMul(tf.tensor(av, sa), tf.tensor(bv, sb), ta, tb)], 2e-5, `large ta=${ta} tb=${tb}`);
  }
  // batched, transposed B of 2 x 350 x 385 (tiled per batch entry)
  const av = randn(rng, 2 * 9 * 385);
  const bv = randn(rng, 2 * 350 * 385);
  await compare(() => [tf.matMul(tf.tensor(av, [2, 9, 385]), tf.tensor(bv, [2, 350, 385]), false, true)], 2e-5, 'large batched tb');
});

test('Transpose of large matrices (tiled path): float32 and int32 bit-exact, batched, rank 4', async () => {
  const rng = new Rng(8);
  // 351 rows: not a multiple of the 4-row unroll nor of the 64 tile
  const f = randn(rng, 2 * 351 * 385);
  const ints = Array.from({ length: 351 * 385 }, (_, i) => (i % 5 === 0 ? -1 : i % 7 === 0 ? 2147483647 : rng.int(1000000) - 500000));
  await compare(() => [tf.transpose(tf.tensor(f.slice(0, 351 * 385), [351, 385]))], 0, 'transpose 2-D float');
  await compare(() => [tf.transpose(tf.tensor(ints, [351, 385], 'int32'))], 0, 'transpose 2-D int32');
  await compare(() => [tf.transpose(tf.tensor(f, [2, 351, 385]), [0, 2, 1])], 0, 'transpose batched');
  await compare(() => [tf.transpose(tf.tensor(f, [2, 1, 351, 385]), [0, 1, 3, 2])], 0, 'transpose rank 4');
  await compare(() => [tf.transpose(tf.tensor(f, [2, 351, 385]), [2, 0, 1])], 0, 'transpose other perm (stock)');
  await compare(() => [tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.transpose(x), tf.range(0, 351 * 385).reshape([385, 351]))))(tf.tensor(f.slice(0, 351 * 385), [351, 385]))], 0, 'transpose gradient');
});

test('Cumsum with negative axes (stock wasm read out of bounds), exclusive and reverse', async () => {
  const x = randn(new Rng(9), 2 * 3 * 4);
  for (const axis of [-1, -2, -3, 1]) {
    // reference: cpu with the positive axis (the cpu kernel mishandles negative ones too)
    const run = (ax: number) => (): tf.Tensor[] => [tf.cumsum(tf.tensor(x, [2, 3, 4]), ax), tf.cumsum(tf.tensor(x, [2, 3, 4]), ax, true, true)];
    await compare(run(axis), 1e-6, `cumsum axis ${axis}`, run((axis + 3) % 3));
  }
  const [r] = await outputsOn('wasm', () => [tf.cumsum(tf.tensor2d([1, 2, 3, 4], [2, 2]), -1)]);
  assert.equal(r.values, [1, 3, 3, 7]);
});

test('matMul degenerate sizes (k = 1, m = 1, n = 1)', async () => {
  await checkMatMul(1, 1, 1, [], []);
  await checkMatMul(4, 1, 3, [], []);
  await checkMatMul(1, 9, 1, [2], []);
});

test('fused matMul with a bias and transposed or batched operands (stock wasm applied the bias to the wrong elements)', async () => {
  const rng = new Rng(7);
  for (const [m, k, n, batch] of [
    [3, 8, 16, []],
    [5, 7, 3, [2]],
    [1, 5, 4, []],
    [300, 520, 300, []], // large enough for the tiled transpose
  ] as [number, number, number, number[]][]) {
    const a = randn(rng, batch.reduce((p, d) => p * d, 1) * m * k);
    const b = randn(rng, batch.reduce((p, d) => p * d, 1) * k * n);
    const bias = randn(rng, n);
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
      for (const activation of ['linear', 'relu', 'elu'] as const) {
        await compare(
          () => [
            tf.fused.matMul({
              a: tf.tensor(a, [...batch, ...(ta ? [k, m] : [m, k])]),
              b: tf.tensor(b, [...batch, ...(tb ? [n, k] : [k, n])]),
              transposeA: ta,
              transposeB: tb,
              bias: tf.tensor1d(bias),
              activation,
            }),
          ],
          1e-5,
          `fused ${m}x${k}x${n} batch [${batch}] ta ${ta} tb ${tb} ${activation}`,
        );
      }
    }
  }
});

test.run();
