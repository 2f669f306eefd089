/** Shared layers: sinusoidal table (HF formula, odd d, growth), embedding padding gradient, activations, dropout, masks. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { PolyglotError } from '../core/errors.js';
import { eagerOps as o } from '../ops/eager.js';
import { SinusoidalPositions, sinusoidalTable, positionIdsFromInputIds } from '../layers/sinusoidal-positions.js';
import { ScaledEmbedding } from '../layers/scaled-embedding.js';
import { applyActivation, checkActivationName } from '../layers/activations.js';
import { dropout } from '../layers/dropout.js';
import { causalAttentionMask, FLOAT32_MIN } from '../layers/attention-mask.js';
import { Attention } from '../layers/attention.js';
import { useBackend } from './helpers.js';

test('sinusoidal table: sin half then cos half, odd d has a zero last column, padding row zero', () => {
  const d = 7; // half = 3, freq_i = exp(-i ln(10000) / 2)
  const t = sinusoidalTable(6, d, 1);
  const row = (r: number) => Array.from(t.subarray(r * d, (r + 1) * d));
  assert.equal(row(1), [0, 0, 0, 0, 0, 0, 0]);
  assert.equal(row(0), [0, 0, 0, 1, 1, 1, 0]);
  const r4 = row(4);
  const freqs = [1, 0.01, 0.0001];
  for (let i = 0; i < 3; i++) {
    assert.ok(Math.abs(r4[i] - Math.sin(4 * freqs[i])) < 1e-6, `sin col ${i}`);
    assert.ok(Math.abs(r4[3 + i] - Math.cos(4 * freqs[i])) < 1e-6, `cos col ${i}`);
  }
  assert.is(r4[6], 0);
  // Row 5, first column: sin(5) exactly as float32.
  assert.is(t[5 * d], Math.fround(Math.sin(5)));
});

test('sinusoidal positions grow past the table and keep earlier rows identical', async () => {
  await useBackend('cpu');
  const p = new SinusoidalPositions({ numPositions: 4, dim: 6, paddingIdx: 1 });
  assert.is(p.numRows, 6);
  const before = tf.tidy(() => p.lookupPositions(o, tf.tensor1d([0, 3], 'int32')).arraySync());
  p.ensureRows(40);
  assert.ok(p.numRows >= 40);
  const after = tf.tidy(() => p.lookupPositions(o, tf.tensor1d([0, 3, 37], 'int32')).arraySync()) as number[][];
  assert.equal(after.slice(0, 2), before);
  const t = sinusoidalTable(40, 6, 1);
  assert.equal(after[2], Array.from(t.subarray(39 * 6, 40 * 6)));
  p.dispose();
});

test('NLLB-style position ids from input ids: padding -> padding_idx, tokens count from padding_idx + 1 + past', async () => {
  await useBackend('cpu');
  const ids = tf.tensor2d([[5, 6, 7, 1], [1, 1, 8, 9]], undefined, 'int32');
  const rows = tf.tidy(() => positionIdsFromInputIds(o, ids, 1, 0).arraySync());
  assert.equal(rows, [[2, 3, 4, 1], [1, 1, 2, 3]]);
  const past = tf.tidy(() => positionIdsFromInputIds(o, tf.tensor2d([[5]], undefined, 'int32'), 1, 3).arraySync());
  assert.equal(past, [[5]]);
  ids.dispose();
});

for (const backend of ['cpu', 'wasm'] as const) {
  test(`${backend}: embedding lookups of padding_idx give its row no gradient; scale applied`, async () => {
    await useBackend(backend);
    const e = new ScaledEmbedding({ vocabSize: 4, dim: 2, hfName: 'emb', paddingIdx: 1, scale: 3 });
    const w = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]);
    e.embeddings.write(w);
    const ids = tf.tensor2d([[0, 1, 1, 2]], undefined, 'int32');
    const { value, grads } = tf.variableGrads(() => tf.sum(e.run(o, ids)) as tf.Scalar);
    // Forward still reads the padding row: 3 * (1+2 + 3+4 + 3+4 + 5+6).
    assert.is(value.dataSync()[0], 3 * 28);
    assert.equal(Array.from(grads[e.embeddings.name].dataSync()), [3, 3, 0, 0, 3, 3, 0, 0]);
    tf.dispose([w, ids, value, ...Object.values(grads)]);
    e.disposeParameters();
  });

  test(`${backend}: attention with a cache equals the full pass; fully masked query rows are uniform`, async () => {
    await useBackend(backend);
    const a = new Attention({ dim: 8, numHeads: 2, hfName: 'a' });
    for (const p of a.hfParameters()) p.variable.write(tf.randomNormal(p.variable.shape as number[], 0, 1, 'float32', 3));
    const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 4);
    const mask = tf.tensor2d([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]]);
    tf.tidy(() => {
      const full = a.run(o, x, { mask: causalAttentionMask(o, mask, 5, 0), training: false });
      const p1 = a.run(o, tf.slice(x, [0, 0, 0], [2, 3, 8]), { mask: causalAttentionMask(o, tf.slice(mask, [0, 0], [2, 3]), 3, 0), training: false });
      const p2 = a.run(o, tf.slice(x, [0, 3, 0], [2, 2, 8]), { mask: causalAttentionMask(o, mask, 2, 3), past: p1.present, training: false });
      assert.equal(p2.present.key.shape, [2, 2, 5, 4]);
      const inc = tf.concat([p1.output, p2.output], 1);
      const d0 = tf.max(tf.abs(tf.sub(inc.slice([0, 0, 0], [1, 5, 8]), full.output.slice([0, 0, 0], [1, 5, 8])))).dataSync()[0];
      const d1 = tf.max(tf.abs(tf.sub(inc.slice([1, 2, 0], [1, 3, 8]), full.output.slice([1, 2, 0], [1, 3, 8])))).dataSync()[0];
      assert.ok(d0 < 1e-5 && d1 < 1e-5, `${d0} ${d1}`);
      // Padded query rows 0 and 1 of batch row 1: uniform softmax over all 5 keys -> identical outputs.
      const r = full.output.slice([1, 0, 0], [1, 2, 8]).arraySync() as number[][][];
      for (let c = 0; c < 8; c++) assert.ok(Math.abs(r[0][0][c] - r[0][1][c]) < 1e-6);
    });
    tf.dispose([x, mask]);
    a.disposeParameters();
  });
}

test('causal mask: finfo.min where blocked (future keys or padding), 0 elsewhere', async () => {
  await useBackend('cpu');
  const m = tf.tidy(() => causalAttentionMask(o, tf.tensor2d([[0, 1, 1]]), 2, 1).arraySync()) as number[][][][];
  const M = Math.fround(FLOAT32_MIN);
  // [1, 1, Tq=2, Tk=3], past 1: query 0 (position 1) sees keys 0..1, query 1 sees 0..2; key 0 is padding.
  const z = (r: number[]) => r.map((v) => (v === 0 ? 0 : v));
  assert.equal(z(m[0][0][0]), [M, 0, M]);
  assert.equal(z(m[0][0][1]), [M, 0, 0]);
});

test('activations: every parameter-free HF ACT2FN name; unknown name is a PolyglotError', async () => {
  await useBackend('cpu');
  const x = tf.tensor1d([-1.5, 0.3, 2]);
  const get = (n: string) => tf.tidy(() => Array.from(applyActivation(o, checkActivationName(n), x).dataSync()));
  const erf = (v: number) => {
    // Abramowitz-Stegun 7.1.26 is too coarse; the Maclaurin series is exact in doubles up to |v| ~ 4,
    // and past 5 erf is +-1 to 1e-12.
    if (Math.abs(v) > 5) return Math.sign(v);
    let s = 0, term = v;
    for (let k = 0; k < 60; k++) { s += term / (2 * k + 1); term *= (-v * v) / (k + 1); }
    return (2 / Math.sqrt(Math.PI)) * s;
  };
  const xs = [-1.5, 0.3, 2];
  const close = (a: number[], b: number[]) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `${v} vs ${b[i]}`));
  close(get('gelu'), xs.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2))));
  close(get('gelu_new'), xs.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))));
  close(get('relu'), [0, 0.3, 2]);
  close(get('silu'), xs.map((v) => v / (1 + Math.exp(-v))));
  // The rest of HF's ACT2FN (transformers/activations.py), formulas written out independently.
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  close(get('gelu_fast'), xs.map((v) => 0.5 * v * (1 + Math.tanh(v * 0.7978845608 * (1 + 0.044715 * v * v)))));
  close(get('gelu_pytorch_tanh'), get('gelu_new'));
  close(get('quick_gelu'), xs.map((v) => v * sig(1.702 * v)));
  close(get('mish'), xs.map((v) => v * Math.tanh(Math.log1p(Math.exp(v)))));
  close(get('laplace'), xs.map((v) => 0.5 * (1 + erf((v - 0.707107) / (0.282095 * Math.SQRT2)))));
  close(get('leaky_relu'), [-0.015, 0.3, 2]);
  close(get('relu2'), [0, 0.09, 4]);
  close(get('tanh'), xs.map(Math.tanh));
  close(get('linear'), xs);
  const big = tf.tensor1d([-20, 3, 20]);
  close(tf.tidy(() => Array.from(applyActivation(o, 'relu6', big).dataSync())), [0, 3, 6]);
  close(tf.tidy(() => Array.from(applyActivation(o, 'gelu_10', big).dataSync())), [0, 0.5 * 3 * (1 + erf(3 / Math.SQRT2)), 10]);
  big.dispose();
  assert.throws(() => checkActivationName('gelu_magic', 'config.json: field "activation_function"'), (e: Error) => e instanceof PolyglotError && /config.json: field "activation_function": expected one of gelu, gelu_new, .*, found "gelu_magic"/.test(e.message));
  x.dispose();
});

test('dropout: identity in eval; seeded in training (same seed, same mask; kept values scaled by 1/(1-p))', async () => {
  await useBackend('cpu');
  const x = tf.ones([1000]);
  const evalOut = dropout(o, x, 0.3, { training: false });
  assert.is(evalOut, x);
  const a = tf.tidy(() => Array.from(dropout(o, x, 0.3, { training: true, rng: new Rng(5) }).dataSync()));
  const b = tf.tidy(() => Array.from(dropout(o, x, 0.3, { training: true, rng: new Rng(5) }).dataSync()));
  assert.equal(a, b);
  const kept = a.filter((v) => v !== 0);
  assert.ok(kept.every((v) => Math.abs(v - 1 / 0.7) < 1e-6));
  assert.ok(kept.length > 620 && kept.length < 780, `kept ${kept.length}`);
  x.dispose();
});

test.run();
