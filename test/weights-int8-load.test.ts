/**
 * int8 weights made while loading (models/pretrained.ts with `weights: 'int8'`): the linear
 * weights never exist as float32 tensors (no float kernels among the parameters, fewer heap
 * bytes), and the logits equal, bit for bit, those of quantizing a float32-loaded model
 * afterwards (`applyWeightPrecision`), which the fixture tests bound against float32.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { fixturePath, useBackend } from './helpers.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { applyWeightPrecision, precisionReportOf } from '../layers/weight-precision.js';
import { nativeAddon } from '../backend/native.js';

await useBackend('wasm');

function ids(rng: Rng, rows: number, cols: number, vocab: number): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: rows * cols }, () => 3 + Math.floor(rng.uniform() * (vocab - 3))), [rows, cols], 'int32');
}

function floats(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

test('xglm-tiny: loaded as int8 = quantized after loading (bit-exact), no float32 linear kernels', () => {
  const ck = openCheckpoint(fixturePath('xglm-tiny'));
  const bytes0 = tf.memory().numBytes;
  const f32 = XGLMForCausalLM.fromCheckpoint(ck);
  const floatBytes = tf.memory().numBytes - bytes0;
  const after = XGLMForCausalLM.fromCheckpoint(ck);
  applyWeightPrecision(after, 'int8');
  const bytes1 = tf.memory().numBytes;
  const loaded = XGLMForCausalLM.fromCheckpoint(ck, { weights: 'int8' });
  const int8Bytes = tf.memory().numBytes - bytes1;
  const names = loaded.namedParameters().map((p) => p.name);
  assert.not.ok(names.some((n) => /(q_proj|k_proj|v_proj|out_proj|fc1|fc2)\.weight$/.test(n)), 'no float32 linear kernels');
  assert.ok(names.includes('model.layers.0.self_attn.q_proj.bias'), 'biases stay float32 parameters');
  assert.equal(after.namedParameters().map((p) => p.name), names, 'post-hoc int8 frees the same kernels');
  const report = precisionReportOf(loaded);
  const c = loaded.config;
  assert.is(report.precision, 'int8');
  assert.is(report.tensors, c.numLayers * 6 + 1, 'every projection and FFN weight, plus the tied output projection');
  if (nativeAddon() !== undefined) {
    assert.ok(report.native, 'native int8');
    const linear = c.numLayers * (4 * c.dModel * c.dModel + 2 * c.dModel * c.ffnDim);
    assert.is(floatBytes - int8Bytes, 4 * linear, 'the heap holds no float32 linear weight');
  }
  const input = ids(new Rng(4), 2, 12, c.vocabSize);
  const before = tf.memory().numTensors;
  const a = after.forward({ inputIds: input });
  const b = loaded.forward({ inputIds: input });
  assert.equal(floats(b.logits), floats(a.logits), 'bit-exact');
  tf.dispose([a.logits, a.lastHiddenState, b.logits, b.lastHiddenState, ...a.presentKeyValues.flatMap((kv) => [kv.key, kv.value]), ...b.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
  assert.is(tf.memory().numTensors, before, 'tensors flat');
  input.dispose();
  for (const m of [f32, after, loaded]) m.dispose();
});

test('nllb-moe-tiny: loaded as int8 = quantized after loading (bit-exact); routers stay float32', () => {
  const ck = openCheckpoint(fixturePath('nllb-moe-tiny'));
  const after = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  applyWeightPrecision(after, 'int8');
  const loaded = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { weights: 'int8' });
  const names = loaded.namedParameters().map((p) => p.name);
  assert.ok(names.some((n) => n.includes('.router.classifier.weight')), 'routers are float32 parameters');
  assert.not.ok(names.some((n) => /experts\.expert_\d+\.fc1\.weight$/.test(n)), 'experts are int8');
  const rng = new Rng(5);
  const src = ids(rng, 2, 10, 1204);
  const tgt = ids(rng, 2, 9, 1204);
  const [la, lb] = tf.tidy(() => [after.forward({ inputIds: src, decoderInputIds: tgt }).logits, loaded.forward({ inputIds: src, decoderInputIds: tgt }).logits]);
  assert.equal(floats(lb), floats(la), 'bit-exact');
  tf.dispose([la, lb, src, tgt]);
  after.dispose();
  loaded.dispose();
});

test.run();
