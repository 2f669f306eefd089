/**
 * The fused native decode attention (backend/native-attention.ts, native/src/attention*.cc) and
 * the in-place KV cache buffers (layers/kv-buffer.ts) against the tfjs ops path they replace:
 * odd head sizes (not multiples of the vector width), one and several heads, batches with left
 * and right padding, fully masked rows, cross-attention over padded encoder states, buffers with
 * stale spare rows; sessions (incremental equals full forward, tensor counts flat) and the HF
 * generate() references of both generation fixtures (greedy and beam ids exact).
 */
import { checkNllbHfCases, checkXglmHfCases, readHfGenerateDoc } from './hf-generate-cases.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { eagerOps as o } from '../ops/eager.js';
import { Attention, type KeyValue } from '../layers/attention.js';
import { causalAttentionMask, paddingAttentionMask } from '../layers/attention-mask.js';
import { nativeStatus } from '../backend/native.js';
import { nativeAttentionCalls, setNativeAttentionEnabled } from '../backend/native-attention.js';
import { setNativeDecodeBlocksEnabled } from '../backend/native-decode-block.js';
import { parseXGLMConfig } from '../models/xglm/config.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { initXGLMWeights } from '../models/xglm/init.js';
import { XGLMDecoderSession } from '../models/xglm/session.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { generate } from '../generation/generate.js';
import { loadTranslator } from '../generation/load.js';
import { fixturePath, useBackend } from './helpers.js';

// Every test runs on wasm (other test files in the same process switch backends).
test.before.each(async () => {
  await useBackend('wasm');
});
// This file tests the attention kernel itself: whole native sub-blocks (which would take over
// decode steps, test/native-decode-block.test.ts) stay off here.
test.before(() => setNativeDecodeBlocksEnabled(false));
test.after(() => setNativeDecodeBlocksEnabled(process.env.POLYGLOT_NATIVE_BLOCKS !== '0'));
const native = nativeStatus().active;
// Tests switch the fused path on and off; outside those switches it stays as the environment set it.
const fusedDefault = process.env.POLYGLOT_NATIVE_ATTENTION !== '0';

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function randomAttention(dim: number, numHeads: number, seed: number, isCross = false): Attention {
  const a = new Attention({ dim, numHeads, hfName: 'attn', isCross });
  a.hfParameters().forEach((p, i) => p.variable.write(tf.randomNormal(p.variable.shape as number[], 0, 0.5, 'float32', seed + i)));
  return a;
}

/** Runs `fn` on the fused path (on) or the tfjs ops (off) and counts fused kernel calls. */
function withFused<R>(on: boolean, fn: () => R): { r: R; calls: number } {
  setNativeAttentionEnabled(on);
  const before = nativeAttentionCalls;
  try {
    return { r: fn(), calls: nativeAttentionCalls - before };
  } finally {
    setNativeAttentionEnabled(fusedDefault);
  }
}

/** `withFused` for async work (generate): the switch holds until it settles. */
async function withFusedAsync<R>(on: boolean, fn: () => Promise<R>): Promise<{ r: R; calls: number }> {
  setNativeAttentionEnabled(on);
  const before = nativeAttentionCalls;
  try {
    return { r: await fn(), calls: nativeAttentionCalls - before };
  } finally {
    setNativeAttentionEnabled(fusedDefault);
  }
}

/** The rows of a cache in use. */
function rowsInUse(kv: KeyValue<tf.Tensor>, n: number): tf.Tensor[] {
  return [kv.key, kv.value].map((t) => tf.slice(t, [0, 0, 0, 0], [-1, -1, n, -1]));
}

// [dim, heads]: head sizes 5, 7, 17, 16 and 1 head of 13.
const SHAPES: [number, number][] = [
  [20, 4],
  [21, 3],
  [34, 2],
  [64, 4],
  [13, 1],
];

test('self-attention decode steps: fused kernel equals the tfjs ops (odd head sizes, padded batches, fully masked rows)', () => {
  let expectedCalls = 0;
  let seen = 0;
  for (const [dim, heads] of SHAPES) {
    for (const [past, tq] of [
      [1, 1],
      [6, 1],
      [6, 3],
    ]) {
      for (const padding of ['none', 'left/right', 'fully masked'] as const) {
        tf.tidy(() => {
          const a = randomAttention(dim, heads, dim * 10 + past);
          const B = padding === 'none' ? 2 : 3;
          const total = past + tq;
          const x = tf.randomNormal([B, total, dim], 0, 1, 'float32', 7 + tq);
          // Row 1 left-padded by one, row 2 right-padded (its last past column); 'fully masked': row 2 sees no key at all.
          const maskRows = Array.from({ length: B }, (_, r) =>
            Array.from({ length: total }, (_, j) => (padding === 'none' || r === 0 ? 1 : padding === 'fully masked' && r === 2 ? 0 : r === 1 ? (j === 0 ? 0 : 1) : j === past - 1 ? 0 : 1)),
          );
          const mask2d = padding === 'none' ? undefined : tf.tensor2d(maskRows, undefined, 'int32');
          const prompt = tf.slice(x, [0, 0, 0], [B, past, dim]);
          const step = tf.slice(x, [0, past, 0], [B, tq, dim]);
          const promptMask = causalAttentionMask(o, mask2d === undefined ? undefined : tf.slice(mask2d, [0, 0], [B, past]), past, 0);
          const stepMask = causalAttentionMask(o, mask2d, tq, past);
          const first = withFused(false, () => a.run(o, prompt, { mask: promptMask, training: false })).r;
          const ref = withFused(false, () => a.run(o, step, { mask: stepMask, past: first.present, training: false }));
          assert.is(ref.calls, 0);
          // A caller's exact cache: copied (never written), present exact.
          const keyBefore = first.present.key.arraySync();
          const exact = withFused(true, () => a.run(o, step, { mask: stepMask, past: first.present, training: false }));
          const what = `dim ${dim} heads ${heads} past ${past} tq ${tq} ${padding}`;
          assert.is(exact.calls, native ? 1 : 0, what);
          assert.ok(maxAbsDiff(exact.r.output, ref.r.output) < 2e-5, `${what}: output ${maxAbsDiff(exact.r.output, ref.r.output)}`);
          assert.equal(exact.r.present.key.shape, ref.r.present.key.shape);
          assert.is(exact.r.present.length, undefined);
          assert.is(maxAbsDiff(exact.r.present.key, ref.r.present.key), 0, what);
          assert.is(maxAbsDiff(exact.r.present.value, ref.r.present.value), 0, what);
          assert.equal(first.present.key.arraySync(), keyBefore, `${what}: the caller's cache was written`);
          // A session's buffer with stale spare rows (large values that must not leak in): appended in place.
          const spare = 4;
          const stale = (t: tf.Tensor) => tf.concat([t, tf.fill([B, heads, spare, dim / heads], 1e3)], 2);
          const buffer: KeyValue<tf.Tensor> = { key: stale(first.present.key), value: stale(first.present.value), length: past };
          const inPlace = withFused(true, () => a.run(o, step, { mask: stepMask, past: buffer, training: false }));
          assert.is(inPlace.calls, native ? 1 : 0);
          assert.ok(maxAbsDiff(inPlace.r.output, ref.r.output) < 2e-5, `${what}: buffer output ${maxAbsDiff(inPlace.r.output, ref.r.output)}`);
          const [k, v] = rowsInUse(inPlace.r.present, total);
          assert.is(maxAbsDiff(k, ref.r.present.key), 0, what);
          assert.is(maxAbsDiff(v, ref.r.present.value), 0, what);
          if (native) {
            assert.is(inPlace.r.present.length, total);
            assert.ok(inPlace.r.present.key === buffer.key && inPlace.r.present.value === buffer.value, `${what}: not appended in place`);
          }
          if (padding === 'fully masked') {
            // Row 2 attends to nothing: a uniform softmax over all keys (HF's clamp), so its output is out_proj(mean of v).
            const meanV = tf.mean(tf.slice(ref.r.present.value, [2, 0, 0, 0], [1, -1, -1, -1]), 2); // [1, H, hd]
            const uniform = a.outProj.run(o, tf.reshape(meanV, [1, 1, dim]));
            const got = tf.slice(inPlace.r.output, [2, 0, 0], [1, 1, dim]);
            assert.ok(maxAbsDiff(got, uniform) < 2e-5, `${what}: fully masked row ${maxAbsDiff(got, uniform)}`);
          }
          a.disposeParameters();
          expectedCalls += 2;
          seen++;
        });
      }
    }
  }
  assert.is(seen, SHAPES.length * 9);
  assert.ok(!native || expectedCalls === 2 * seen);
});

test('cross-attention over padded encoder states: fused kernel equals the tfjs ops, cache reused as is', () => {
  for (const [dim, heads] of SHAPES) {
    for (const tq of [1, 2]) {
      tf.tidy(() => {
        const a = randomAttention(dim, heads, 3 + dim, true);
        const B = 3;
        const ts = 5;
        const enc = tf.randomNormal([B, ts, dim], 0, 1, 'float32', 11);
        // Right padding in row 1, a fully padded row 2.
        const encMask = tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], undefined, 'int32');
        const mask = paddingAttentionMask(o, encMask);
        const h0 = tf.randomNormal([B, 1, dim], 0, 1, 'float32', 12);
        const h1 = tf.randomNormal([B, tq, dim], 0, 1, 'float32', 13);
        const first = withFused(true, () => a.run(o, h0, { mask, keyValueStates: enc, training: false }));
        assert.is(first.calls, 0, 'no cache yet: the tfjs ops compute keys/values');
        const ref = withFused(false, () => a.run(o, h1, { mask, past: first.r.present, training: false })).r;
        const fused = withFused(true, () => a.run(o, h1, { mask, past: first.r.present, training: false }));
        const what = `cross dim ${dim} heads ${heads} tq ${tq}`;
        assert.is(fused.calls, native ? 1 : 0, what);
        assert.ok(maxAbsDiff(fused.r.output, ref.output) < 2e-5, `${what}: ${maxAbsDiff(fused.r.output, ref.output)}`);
        assert.ok(fused.r.present.key === first.r.present.key, `${what}: the cross cache is reused`);
        a.disposeParameters();
      });
    }
  }
});

test('no fused kernel while gradients are recorded or in training mode', () => {
  const a = randomAttention(20, 4, 5);
  tf.tidy(() => {
    const x = tf.randomNormal([2, 3, 20], 0, 1, 'float32', 1);
    const first = a.run(o, tf.slice(x, [0, 0, 0], [2, 2, 20]), { training: false });
    const step = tf.slice(x, [0, 2, 0], [2, 1, 20]);
    const inGrad = withFused(true, () => tf.variableGrads(() => tf.sum(a.run(o, step, { past: first.present, training: false }).output) as tf.Scalar));
    assert.is(inGrad.calls, 0);
    assert.ok(Object.keys(inGrad.r.grads).length > 0);
    const training = withFused(true, () => a.run(o, step, { past: first.present, training: true }));
    assert.is(training.calls, 0);
    const inference = withFused(true, () => a.run(o, step, { past: first.present, training: false }));
    assert.is(inference.calls, native ? 1 : 0);
  });
  a.disposeParameters();
});

function tinyXglm(): XGLMForCausalLM {
  const cfg = parseXGLMConfig({ vocab_size: 50, d_model: 20, ffn_dim: 32, num_layers: 2, attention_heads: 4, max_position_embeddings: 8, init_std: 0.5 });
  const lm = new XGLMForCausalLM(cfg);
  initXGLMWeights(lm, 7);
  return lm;
}

test('XGLM session on the fused path: incremental equals the full forward (left padding), buffers grow by doubling, tensors flat', () => {
  const lm = tinyXglm();
  const T = 24;
  const ids = Array.from({ length: 2 }, (_, r) => Array.from({ length: T }, (_, j) => 3 + ((j * 7 + r * 5) % 45)));
  const mask = [Array.from({ length: T }, () => 1), Array.from({ length: T }, (_, j) => (j < 2 ? 0 : 1))];
  const pos = mask.map((row) => {
    let c = 0;
    return row.map((m) => (m === 0 ? 1 : (c += 1) - 1));
  });
  const full = lm.forward({ inputIds: tf.tensor2d(ids, undefined, 'int32'), attentionMask: tf.tensor2d(mask, undefined, 'int32'), positionIds: tf.tensor2d(pos, undefined, 'int32') });
  const session = new XGLMDecoderSession(lm, mask.map((r) => r.slice(0, 3)));
  const cache = () => (session as unknown as { past: KeyValue<tf.Tensor>[] }).past[0];
  tf.dispose(session.step(tf.tensor2d(ids.map((r) => r.slice(0, 3)), undefined, 'int32')));
  const capacities: number[] = [];
  const counts: number[] = [];
  let reused = 0;
  const before = nativeAttentionCalls;
  for (let t = 3; t < T; t++) {
    const prev = cache().key;
    const tok = tf.tensor2d(ids.map((r) => [r[t]]), undefined, 'int32');
    const logits = session.step(tok);
    const ref = tf.tidy(() => tf.reshape(tf.slice(full.logits, [0, t, 0], [2, 1, 50]), [2, 50]));
    const d = maxAbsDiff(logits, ref);
    assert.ok(d < 5e-5, `position ${t}: max abs diff ${d}`);
    tf.dispose([tok, logits, ref]);
    if (cache().key === prev) reused++;
    capacities.push(cache().key.shape[2]!);
    assert.is(cache().length, t + 1);
    counts.push(tf.memory().numTensors);
  }
  assert.ok(counts.every((c) => c === counts[0]), `tensor counts vary: ${[...new Set(counts)]}`);
  if (native) {
    assert.is(nativeAttentionCalls - before, 2 * (T - 3));
    // 3 -> 6 -> 12 -> 24 rows: three copies in 21 steps, every other step appends in place.
    assert.equal([...new Set(capacities)], [6, 12, 24]);
    assert.is(reused, T - 3 - 3);
  }
  session.dispose();
  tf.dispose([full.logits, full.lastHiddenState, ...full.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
  lm.dispose();
});

test('XGLM beam reorder keeps buffers and their length; equals the tfjs ops path', async () => {
  const lm = tinyXglm();
  const run = (on: boolean) =>
    withFusedAsync(on, () => {
      const s = new XGLMDecoderSession(lm, [[0, 1, 1], [1, 1, 1]]);
      return generate(s, { inputIds: [[1, 4, 5], [6, 7, 8]] }, { maxNewTokens: 12, numBeams: 3, eosTokenId: 46, padTokenId: 1 }).finally(() => s.dispose());
    });
  const before = tf.memory().numTensors;
  const { r: fused, calls } = await run(true);
  assert.ok(!native || calls > 0, 'the fused kernel ran');
  const { r: ref, calls: refCalls } = await run(false);
  assert.is(refCalls, 0);
  assert.equal(fused.sequences, ref.sequences);
  fused.sequenceScores!.forEach((s, i) => assert.ok(Math.abs(s - ref.sequenceScores![i]) <= 1e-5 * Math.abs(s) + 1e-6, `score ${i}: ${s} vs ${ref.sequenceScores![i]}`));
  assert.is(tf.memory().numTensors, before);
  lm.dispose();
});

test('HF generate() references on the fused path: NLLB-MoE fixture (greedy, beams, cross-attention), ids exact, tensors flat', async () => {
  const doc = readHfGenerateDoc('nllb-moe-tiny');
  const tr = await loadTranslator(fixturePath('nllb-moe-tiny'));
  const before = tf.memory().numTensors;
  const calls = nativeAttentionCalls;
  await checkNllbHfCases(tr.model, doc);
  assert.is(tf.memory().numTensors, before);
  assert.ok(!native || nativeAttentionCalls > calls, 'the fused kernel ran');
  tr.model.dispose();
});

test('HF generate() references on the fused path: XGLM fixture (left padding, greedy, beams), ids exact, tensors flat', async () => {
  const doc = readHfGenerateDoc('xglm-tiny');
  const lm = XGLMForCausalLM.fromCheckpoint(openCheckpoint(fixturePath('xglm-tiny')));
  const before = tf.memory().numTensors;
  const calls = nativeAttentionCalls;
  await checkXglmHfCases(lm, doc);
  assert.is(tf.memory().numTensors, before);
  assert.ok(!native || nativeAttentionCalls > calls, 'the fused kernel ran');
  lm.dispose();
});

test.run();
