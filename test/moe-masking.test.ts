import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { eagerOps } from '../ops/eager.js';
import { maskExpertOutput } from '../layers/moe/expert-output-masking.js';
import { useBackend } from './helpers.js';

await useBackend('wasm');

const N = 3000;
const D = 16;
const P = 0.3;

function masked(mode: 'token' | 'hf' | undefined, training: boolean, seed = 1): Float32Array {
  return tf.tidy(() => {
    const h = tf.ones([N, D]);
    return maskExpertOutput(eagerOps, h, P, { training, rng: new Rng(seed), mode }).dataSync() as Float32Array;
  });
}

test('eval multiplies expert outputs by (1 - p), as HF', () => {
  const v = masked(undefined, false);
  assert.ok(v.every((x) => Math.abs(x - 0.7) < 1e-6));
});

test('training default: whole token vectors dropped with probability p, survivors not rescaled', () => {
  const v = masked(undefined, true);
  let zeroRows = 0;
  for (let i = 0; i < N; i++) {
    const row = v.subarray(i * D, (i + 1) * D);
    const first = row[0];
    assert.ok(first === 0 || first === 1, `row ${i} value ${first}`);
    assert.ok(row.every((x) => x === first), `row ${i} is not uniform`);
    if (first === 0) zeroRows++;
  }
  assert.ok(Math.abs(zeroRows / N - P) < 0.03, `dropped rate ${zeroRows / N}`);
  // mean of the mask = 1 - p = eval's factor
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  assert.ok(Math.abs(mean - (1 - P)) < 0.03);
});

test('training "hf": element-wise inverted dropout (survivors scaled by 1/(1-p))', () => {
  const v = masked('hf', true);
  let zeros = 0;
  let mixedRows = 0;
  for (let i = 0; i < v.length; i++) {
    assert.ok(v[i] === 0 || Math.abs(v[i] - 1 / (1 - P)) < 1e-5, `value ${v[i]}`);
    if (v[i] === 0) zeros++;
  }
  for (let i = 0; i < N; i++) {
    const row = Array.from(v.subarray(i * D, (i + 1) * D));
    if (row.some((x) => x === 0) && row.some((x) => x !== 0)) mixedRows++;
  }
  assert.ok(Math.abs(zeros / v.length - P) < 0.02, `dropped rate ${zeros / v.length}`);
  assert.ok(mixedRows > N / 2, 'elements are dropped independently within a token');
});

test('seeded: same seed same mask, other seed other mask; no tensors leak', () => {
  const before = tf.memory().numTensors;
  for (const mode of ['token', 'hf'] as const) {
    const a = masked(mode, true, 5);
    assert.equal(Array.from(masked(mode, true, 5)), Array.from(a));
    assert.not.equal(Array.from(masked(mode, true, 6)), Array.from(a));
  }
  assert.is(tf.memory().numTensors, before);
});

test('training without an rng is an error; p = 0 is the identity', () => {
  assert.throws(() => tf.tidy(() => { maskExpertOutput(eagerOps, tf.ones([2, 2]), 0.2, { training: true }); }), /needs an rng/);
  const v = tf.tidy(() => maskExpertOutput(eagerOps, tf.ones([2, 2]), 0, { training: true }).dataSync());
  assert.equal(Array.from(v), [1, 1, 1, 1]);
});

test.run();
