/** The matmul-rate probe and the bench report plumbing (no speed assertions). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { measureMatmulGflops } from '../backend/matmul-rate.js';
import { formatResult, parseBenchArgs, result, type BenchContext } from '../bench/common.js';
import { useBackend } from './helpers.js';

test('measureMatmulGflops: per-shape rates consistent with their timings, tensors flat', async () => {
  await useBackend('wasm');
  const before = tf.memory().numTensors;
  const r = await measureMatmulGflops({ shapes: [[64, 32, 48], [16, 16, 16]], minMs: 5, minReps: 2 });
  assert.is(tf.memory().numTensors, before);
  assert.is(r.backend, 'wasm');
  assert.equal(r.perShape.map((s) => [s.m, s.k, s.n]), [[64, 32, 48], [16, 16, 16]]);
  for (const s of r.perShape) {
    assert.ok(s.msPerProduct > 0 && Number.isFinite(s.gflops));
    assert.ok(Math.abs(s.gflops - (2 * s.m * s.k * s.n) / (s.msPerProduct * 1e6)) < 1e-9 * s.gflops);
  }
  assert.is(r.gflops, Math.max(...r.perShape.map((s) => s.gflops)));
});

test('report line: tokens/s, achieved, backend matmul, ratio', () => {
  const ctx: BenchContext = { backend: 'wasm', matmulGflops: 20, quick: true, options: {} };
  const r = result(ctx, 'toy', { ms: 500, flops: 5e9, tokens: 256 });
  assert.is(r.tokensPerSec, 512);
  assert.is(r.achievedGflops, 10);
  assert.is(r.ratio, 0.5);
  assert.is(formatResult(r), 'toy: 512 tokens/s, achieved 10.0 GFLOP/s, backend matmul 20.0 GFLOP/s, ratio 0.50, (500 ms/iter)');
  assert.is(formatResult(result(ctx, 'plain', { ms: 2.5 })), 'plain: 2.50 ms');
});

test('bench arguments: names, valued options, flags, --key=value', () => {
  const p = parseBenchArgs(['matmul', '--backend', 'wasm', '--json', 'xglm', '--quick', '--json2=out.json', '--steps', '5']);
  assert.equal(p.names, ['matmul', 'xglm']);
  assert.equal(p.options, { backend: 'wasm', json: true, quick: true, json2: 'out.json', steps: '5' });
});

test.run();
