/**
 * Whole pre-norm sub-blocks of a decode step as one native call (backend/native-decode-block.ts,
 * native/src/decode_block.cc, layers/decode-blocks.ts) against the separate kernels they chain:
 * the same kernels in the same order, so logits and key/value caches must be bit-identical, for
 * float32, int8 and bfloat16 weights, odd sizes (head size 5, d 20, ffn 36), left padding, steps
 * of one and two tokens, beams; the HF generate() references of both generation fixtures and a
 * dense M2M-100 translation; the cases it must leave to the separate kernels (LoRA adapter,
 * gradient tape, training); and the native entry's checks on what it is handed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { eagerOps as o } from '../ops/eager.js';
import type { KeyValue } from '../layers/attention.js';
import { applyWeightPrecision, type WeightPrecision } from '../layers/weight-precision.js';
import { nativeAddon, nativeStatus } from '../backend/native.js';
import { nativeDecodeBlock, nativeDecodeBlockCalls, setNativeDecodeBlocksEnabled } from '../backend/native-decode-block.js';
import { parseXGLMConfig } from '../models/xglm/config.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { initXGLMWeights } from '../models/xglm/init.js';
import { XGLMDecoderSession } from '../models/xglm/session.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { generate } from '../generation/generate.js';
import { loadTranslator } from '../generation/load.js';
import { LoraModel } from '../train/lora/lora-model.js';
import { Int8Linear } from '../backend/native-int8.js';
import { W16Linear } from '../backend/native-w16.js';
import { quantizeInt8 } from '../backend/int8-weights.js';
import { w16FromKernel } from '../backend/w16-weights.js';
import { checkNllbHfCases, checkXglmHfCases, readHfGenerateDoc } from './hf-generate-cases.js';
import { fixturePath, useBackend } from './helpers.js';

test.before.each(async () => {
  await useBackend('wasm');
});
const native = nativeStatus().active;
const blocksDefault = process.env.POLYGLOT_NATIVE_BLOCKS !== '0';

/** Runs `fn` with whole blocks on or off and counts block calls. */
async function withBlocks<R>(on: boolean, fn: () => R | Promise<R>): Promise<{ r: R; calls: number }> {
  setNativeDecodeBlocksEnabled(on);
  const before = nativeDecodeBlockCalls;
  try {
    return { r: await fn(), calls: nativeDecodeBlockCalls - before };
  } finally {
    setNativeDecodeBlocksEnabled(blocksDefault);
  }
}

function tinyXglm(weights: WeightPrecision): XGLMForCausalLM {
  // head size 5 and ffn 36: not multiples of any vector width.
  const cfg = parseXGLMConfig({ vocab_size: 50, d_model: 20, ffn_dim: 36, num_layers: 2, attention_heads: 4, max_position_embeddings: 32, init_std: 0.5 });
  const lm = new XGLMForCausalLM(cfg);
  initXGLMWeights(lm, 7);
  if (weights !== 'float32') applyWeightPrecision(lm, weights);
  return lm;
}

/** Per step: the logits and the caches' rows in use, as host arrays. */
function decodeTrace(lm: XGLMForCausalLM, steps: number[]): { logits: number[][]; caches: number[][] } {
  const ids = [Array.from({ length: 30 }, (_, j) => 3 + ((j * 7) % 45)), Array.from({ length: 30 }, (_, j) => 3 + ((j * 11 + 5) % 45))];
  const session = new XGLMDecoderSession(lm, [
    [1, 1, 1],
    [0, 0, 1],
  ]);
  const out = { logits: [] as number[][], caches: [] as number[][] };
  let at = 0;
  try {
    for (const t of [3, ...steps]) {
      const tok = tf.tensor2d(ids.map((r) => r.slice(at, at + t)), undefined, 'int32');
      const logits = session.step(tok);
      out.logits.push(Array.from(logits.dataSync()));
      tf.dispose([tok, logits]);
      at += t;
      const past = (session as unknown as { past: KeyValue<tf.Tensor>[] }).past;
      for (const kv of past) {
        out.caches.push(tf.tidy(() => Array.from(tf.slice(kv.key, [0, 0, 0, 0], [-1, -1, kv.length!, -1]).dataSync())));
        out.caches.push(tf.tidy(() => Array.from(tf.slice(kv.value, [0, 0, 0, 0], [-1, -1, kv.length!, -1]).dataSync())));
      }
    }
  } finally {
    session.dispose();
  }
  return out;
}

/** Decode steps of a tiny XGLM with `weights` give the same logits and caches with whole blocks as without. */
async function blocksMatch(weights: WeightPrecision): Promise<void> {
  const lm = tinyXglm(weights);
  const steps = [1, 1, 2, 1, 2, 1, 1];
  const before = tf.memory().numTensors;
  const on = await withBlocks(true, () => decodeTrace(lm, steps));
  const off = await withBlocks(false, () => decodeTrace(lm, steps));
  assert.is(tf.memory().numTensors, before, 'tensors flat');
  assert.is(off.calls, 0);
  // Two blocks a layer (attention, FFN) for every cached step; the prompt step (no cache) only its FFN blocks.
  assert.is(on.calls, native ? steps.length * 2 * lm.config.numLayers + lm.config.numLayers : 0);
  on.r.logits.forEach((row, i) => assert.equal(row, off.r.logits[i], `${weights} step ${i}: logits`));
  on.r.caches.forEach((row, i) => assert.equal(row, off.r.caches[i], `${weights} cache ${i}`));
  lm.dispose();
}

for (const [weights, isa] of [['float32', 'best'], ['int8', 'best'], ['bfloat16', 'best'], ['int8', 'avx2'], ['float16', 'avx2']] as const) {
  test(`XGLM ${weights} (${isa} kernels): decode steps (1 and 2 tokens, left padding) with whole blocks are bit-identical to the separate kernels; tensors flat`, async () => {
    nativeAddon()?.setIsa(isa);
    try {
      await blocksMatch(weights);
    } finally {
      nativeAddon()?.setIsa('best');
    }
  });
}

test('XGLM beams (reorders between steps): sequences and scores equal to the separate kernels', async () => {
  const lm = tinyXglm('int8');
  const run = (on: boolean) =>
    withBlocks(on, async () => {
      const s = new XGLMDecoderSession(lm, [
        [0, 1, 1],
        [1, 1, 1],
      ]);
      try {
        return await generate(s, { inputIds: [[1, 4, 5], [6, 7, 8]] }, { maxNewTokens: 10, numBeams: 3, eosTokenId: 46, padTokenId: 1 });
      } finally {
        s.dispose();
      }
    });
  const before = tf.memory().numTensors;
  const on = await run(true);
  const off = await run(false);
  assert.is(tf.memory().numTensors, before);
  assert.ok(!native || on.calls > 0, 'blocks ran');
  assert.equal(on.r.sequences, off.r.sequences);
  assert.equal(on.r.sequenceScores, off.r.sequenceScores);
  lm.dispose();
});

test('HF generate() references with whole blocks: XGLM and NLLB-MoE fixtures (greedy, beams, cross-attention, dense FFN layers), ids exact', async () => {
  const xdoc = readHfGenerateDoc('xglm-tiny');
  const lm = XGLMForCausalLM.fromCheckpoint(openCheckpoint(fixturePath('xglm-tiny')));
  const ndoc = readHfGenerateDoc('nllb-moe-tiny');
  const tr = await loadTranslator(fixturePath('nllb-moe-tiny'));
  const before = tf.memory().numTensors;
  const { calls } = await withBlocks(true, async () => {
    await checkXglmHfCases(lm, xdoc);
    await checkNllbHfCases(tr.model, ndoc);
  });
  assert.is(tf.memory().numTensors, before);
  assert.ok(!native || calls > 0, 'blocks ran');
  lm.dispose();
  tr.model.dispose();
});

test('dense M2M-100 decode steps (self, cross, FFN blocks): logits bit-identical to the separate kernels', async () => {
  const tr = await loadTranslator(fixturePath('m2m100-tiny'));
  const trace = () => {
    const src = tf.tensor2d([[5, 9, 13, 2], [7, 11, 2, 1]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]], undefined, 'int32');
    const s = new NllbMoeSession(tr.model, src, mask);
    const rows: number[][] = [];
    try {
      for (const t of [[2, 2], [17, 19], [23, 29], [31, 37]]) {
        const tok = tf.tensor2d(t.map((x) => [x]), undefined, 'int32');
        const logits = s.step(tok);
        rows.push(Array.from(logits.dataSync()));
        tf.dispose([tok, logits]);
      }
    } finally {
      s.dispose();
      tf.dispose([src, mask]);
    }
    return rows;
  };
  const before = tf.memory().numTensors;
  const on = await withBlocks(true, trace);
  const off = await withBlocks(false, trace);
  assert.is(tf.memory().numTensors, before);
  // Self, cross and FFN for every decoder layer on the three cached steps; the first step (no cache yet) its FFN blocks.
  const layers = tr.model.config.decoderLayers;
  assert.is(on.calls, native ? 3 * 3 * layers + layers : 0);
  on.r.forEach((row, i) => assert.equal(row, off.r[i], `step ${i}`));
  tr.model.dispose();
});

test('left to the separate kernels: an adapted projection (its block only), a gradient tape, training mode', async () => {
  const lm = tinyXglm('float32');
  const lora = new LoraModel(lm, { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'] }, 3);
  const step = () => decodeTrace(lm, [1]);
  const adapted = await withBlocks(true, step);
  // The attention blocks fall back (q_proj has an adapter); the FFN blocks still run.
  assert.is(adapted.calls, native ? 2 * lm.config.numLayers : 0);
  const reference = await withBlocks(false, step);
  adapted.r.logits.forEach((row, i) => assert.equal(row, reference.r.logits[i]));
  lora.detach();
  const block = lm.model.layers[0]!;
  const inGrad = await withBlocks(true, () => {
    const x = tf.randomNormal([1, 1, 20], 0, 1, 'float32', 3);
    const g = tf.variableGrads(() => tf.sum(block.ffn.run(o, x, { training: false })) as tf.Scalar);
    tf.dispose([x, ...Object.values(g.grads), g.value]);
  });
  assert.is(inGrad.calls, 0, 'no block under a gradient tape');
  const training = await withBlocks(true, () => tf.tidy(() => lm.forward({ inputIds: tf.tensor2d([[3, 4]], undefined, 'int32'), training: true, rng: new Rng(5) }).logits.dataSync()));
  assert.is(training.calls, 0, 'no block in training');
  lm.dispose();
});

test('the native entry checks what it is handed: weight kinds (type tags), shapes against their roles, heap bounds', () => {
  const addon = nativeAddon();
  if (addon === undefined) return;
  const d = 8;
  const kernel = (k: number, n: number) => Float32Array.from({ length: k * n }, (_, i) => Math.sin(i));
  const q8 = new Int8Linear(quantizeInt8(kernel(d, d), d, d));
  const w16 = new W16Linear(w16FromKernel(kernel(d, 2 * d), d, 2 * d, 'bfloat16'));
  const heap = new ArrayBuffer(4096);
  // The addon's errors are plain one-line Errors (the kernels' callers check shapes first).
  const throwsExactly = (fn: () => unknown, msg: string | RegExp) =>
    assert.throws(fn, (e: unknown) => e instanceof Error && !e.message.includes('\n') && (typeof msg === 'string' ? e.message === msg : msg.test(e.message)));
  throwsExactly(() => addon.q8Matmul(heap, w16.nativeHandle!, 0, 64, 1), 'polyglot native: not an int8 weight');
  throwsExactly(() => addon.w16Matmul(heap, q8.nativeHandle!, 0, 64, 1), 'polyglot native: not a 16-bit weight');
  tf.tidy(() => {
    const hidden = tf.randomNormal([1, 1, d]);
    const ones = tf.ones([d]);
    const zeros = tf.zeros([d]);
    // An FFN block whose fc1 is [d -> 2d] and fc2 the [d -> d] int8 weight: fc2 must be [2d -> d].
    const ffn = (fc1: object, fc2: object) => nativeDecodeBlock({ kind: 'ffn', hidden, gamma: ones, beta: zeros, eps: 1e-5, linears: [{ handle: fc1 }, { handle: fc2 }], ffnDim: 2 * d, activation: { kind: 'erf' } });
    throwsExactly(() => ffn(w16.nativeHandle!, q8.nativeHandle!), 'polyglot native: decodeBlock weight shape does not fit its role');
    throwsExactly(() => ffn(w16.nativeHandle!, {}), 'polyglot native: decodeBlock weight is neither an int8 nor a 16-bit weight');
    const heapDims = Float64Array.of(2, 1, 1, d, 1, 0, 0, 1, 1, 1, 2 * d, 0, 1e-5, 1, 0, 4 * d);
    const offsets = Float64Array.of(0, 1e9, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    throwsExactly(() => addon.decodeBlock(heap, [w16.nativeHandle!, q8.nativeHandle!, null, null], offsets, heapDims), /decodeBlock (weight shape does not fit its role|operand outside the heap)/);
  });
  q8.dispose();
  w16.dispose();
});

test.run();
