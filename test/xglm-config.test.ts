/** XGLM config parsing (HF defaults, typed errors) and weight-loading errors. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { parseXGLMConfig, withConfigOverrides, XGLM_DEFAULTS } from '../models/xglm/config.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { loadXGLMWeights } from '../models/xglm/weights.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import type { TensorMeta, TensorSource } from '../convert/checkpoint.js';
import type { HostTensor } from '../convert/safetensors.js';
import { fixturePath, useBackend, throwsExactly } from './helpers.js';

test('defaults are HF XGLMConfig() (xglm-564M) with tied embeddings', () => {
  const c = parseXGLMConfig({});
  assert.equal(c, XGLM_DEFAULTS);
  assert.is(c.vocabSize, 256008);
  assert.is(c.maxPositionEmbeddings, 2048);
  assert.is(c.dModel, 1024);
  assert.is(c.ffnDim, 4096);
  assert.is(c.numLayers, 24);
  assert.is(c.attentionHeads, 16);
  assert.is(c.activationFunction, 'gelu');
  assert.is(c.dropout, 0.1);
  assert.is(c.attentionDropout, 0.1);
  assert.is(c.activationDropout, 0);
  assert.is(c.layerdrop, 0);
  assert.is(c.initStd, 0.02);
  assert.is(c.scaleEmbedding, true);
  assert.is(c.useCache, true);
  assert.is(c.decoderStartTokenId, 2);
  assert.is(c.padTokenId, 1);
  assert.is(c.bosTokenId, 0);
  assert.is(c.eosTokenId, 2);
  assert.is(c.tieWordEmbeddings, true);
});

test('fixture config parses; attribute_map aliases accepted; overrides re-validated', () => {
  const c = parseXGLMConfig(openCheckpoint(fixturePath('xglm-tiny')).config);
  assert.is(c.dModel, 64);
  assert.is(c.numLayers, 2);
  assert.is(c.attentionHeads, 4);
  assert.is(c.vocabSize, 1008);
  assert.is(c.maxPositionEmbeddings, 128);
  const a = parseXGLMConfig({ hidden_size: 32, num_hidden_layers: 3, num_attention_heads: 2 });
  assert.equal([a.dModel, a.numLayers, a.attentionHeads], [32, 3, 2]);
  assert.is(withConfigOverrides(c, { dropout: 0 }).dropout, 0);
  throwsExactly(() => withConfigOverrides(c, { dropout: 'none' }, 'params.config_overrides'), 'params.config_overrides: field "dropout": expected a number in [0, 1], found string "none"');
});

test('a field with a wrong type names config.json, the field, expected and found', () => {
  throwsExactly(() => parseXGLMConfig({ d_model: '1024' }, 'm/config.json'), 'm/config.json: field "d_model": expected a positive integer, found string "1024"');
  throwsExactly(() => parseXGLMConfig({ num_layers: 2.5 }, 'm/config.json'), 'm/config.json: field "num_layers": expected a positive integer, found number 2.5');
  throwsExactly(() => parseXGLMConfig({ scale_embedding: 1 }, 'm/config.json'), 'm/config.json: field "scale_embedding": expected true or false, found number 1');
  throwsExactly(() => parseXGLMConfig({ dropout: 1.5 }, 'm/config.json'), 'm/config.json: field "dropout": expected a number in [0, 1], found number 1.5');
  throwsExactly(() => parseXGLMConfig({ pad_token_id: null }, 'm/config.json'), 'm/config.json: field "pad_token_id": expected a non-negative integer token id, found null');
  throwsExactly(() => parseXGLMConfig({ activation_function: 'prelu' }, 'm/config.json'), 'm/config.json: field "activation_function": expected one of gelu, gelu_new, relu, silu, swish, gelu_python, gelu_pytorch_tanh, gelu_accurate, gelu_fast, quick_gelu, gelu_10, laplace, leaky_relu, linear, mish, relu2, relu6, sigmoid, tanh, found "prelu"');
  throwsExactly(() => parseXGLMConfig({ model_type: 'bart' }, 'm/config.json'), 'm/config.json: field "model_type": expected "xglm", found string "bart"');
  throwsExactly(() => parseXGLMConfig({ d_model: 30, attention_heads: 4 }, 'm/config.json'), 'm/config.json: field "d_model": expected a multiple of attention_heads (4), found 30');
  throwsExactly(() => parseXGLMConfig([], 'm/config.json'), 'm/config.json: expected a JSON object, found array []');
});

/** The fixture's tensors with one change. */
function edited(src: TensorSource, edit: { drop?: string; add?: string; reshape?: [string, number[]] }): TensorSource {
  const names = () => [...src.names().filter((n) => n !== edit.drop), ...(edit.add ? [edit.add] : [])];
  return {
    names,
    has: (n) => names().includes(n),
    meta: (n): TensorMeta => {
      if (n === edit.add) return { name: n, dtype: 'F32', shape: [2], file: 'x' };
      const m = src.meta(n);
      return edit.reshape && edit.reshape[0] === n ? { ...m, shape: edit.reshape[1] } : m;
    },
    read: (n): HostTensor => (n === edit.add ? { dtype: 'F32', shape: [2], data: new Float32Array(2) } : src.read(n)),
  };
}

test('weights: missing / unexpected / mis-shaped tensors are one clear error each', async () => {
  await useBackend('cpu');
  const ck = openCheckpoint(fixturePath('xglm-tiny'));
  const lm = new XGLMForCausalLM(parseXGLMConfig(ck.config));
  throwsExactly(() => loadXGLMWeights(lm, edited(ck.tensors, { drop: 'model.layers.1.fc2.bias' }), 'dir'), 'dir: missing tensor "model.layers.1.fc2.bias" (expected by the XGLM config)');
  throwsExactly(() => loadXGLMWeights(lm, edited(ck.tensors, { add: 'model.layers.2.fc1.bias' }), 'dir'), 'dir: unexpected tensor "model.layers.2.fc1.bias" (not part of XGLMForCausalLM with this config)');
  throwsExactly(
    () => loadXGLMWeights(lm, edited(ck.tensors, { reshape: ['model.layers.0.fc1.weight', [64, 128]] }), 'dir'),
    'dir: tensor "model.layers.0.fc1.weight": expected shape [128, 64], found [64, 128]',
  );
  // The real thing loads; Linear weights are stored transposed.
  loadXGLMWeights(lm, ck.tensors, 'dir');
  const fc1 = lm.namedParameters().find((p) => p.name === 'model.layers.0.fc1.weight')!;
  assert.equal(fc1.variable.shape, [64, 128]);
  assert.is(fc1.transposed, true);
  const host = ck.tensors.read('model.layers.0.fc1.weight');
  const stored = fc1.variable.read().arraySync() as number[][];
  assert.is(stored[5][7], (host.data as Float32Array)[7 * 64 + 5]);
  lm.dispose();
});

test('fromCheckpoint builds variables from the checkpoint (one copy of each weight; errors leak nothing)', async () => {
  await useBackend('cpu');
  const ck = openCheckpoint(fixturePath('xglm-tiny'));
  const before = tf.memory();
  const lm = XGLMForCausalLM.fromCheckpoint(ck);
  const paramBytes = lm.namedParameters().reduce((s, p) => s + 4 * (p.variable.shape as number[]).reduce((a, b) => a * b, 1), 0);
  const tableBytes = 4 * lm.model.embedPositions.numRows * 64;
  assert.is(tf.memory().numBytes - before.numBytes, paramBytes + tableBytes);
  const emb = lm.namedParameters()[0];
  assert.is(emb.name, 'model.embed_tokens.weight');
  const host = ck.tensors.read('model.embed_tokens.weight').data as Float32Array;
  assert.is((emb.variable.read().dataSync() as Float32Array)[1234], host[1234]);
  lm.dispose();
  assert.is(tf.memory().numTensors, before.numTensors);
  const bad = { ...ck, tensors: edited(ck.tensors, { drop: 'model.layer_norm.bias' }) };
  throwsExactly(() => XGLMForCausalLM.fromCheckpoint(bad), `${ck.dir}: missing tensor "model.layer_norm.bias" (expected by the XGLM config)`);
  assert.is(tf.memory().numTensors, before.numTensors);
});

test('.bin checkpoint: lm_head.weight equal to the embedding is accepted', async () => {
  await useBackend('cpu');
  const ck = openCheckpoint(fixturePath('xglm-tiny-bin'));
  assert.ok(ck.tensors.has('lm_head.weight'));
  const lm = XGLMForCausalLM.fromCheckpoint(ck);
  assert.is(lm.namedParameters().length, 1 + 2 * 16 + 2);
  lm.dispose();
  // An lm_head that differs from the embedding (untied) is refused by name.
  const src = ck.tensors;
  const untied: TensorSource = {
    names: () => src.names(),
    has: (n) => src.has(n),
    meta: (n) => src.meta(n),
    read: (n) => {
      const h = src.read(n);
      if (n !== 'lm_head.weight') return h;
      const data = Float32Array.from(h.data as Float32Array);
      data[3] += 1;
      return { ...h, data };
    },
  };
  const lm2 = new XGLMForCausalLM(parseXGLMConfig(ck.config));
  throwsExactly(() => loadXGLMWeights(lm2, untied, 'bin'), 'bin: tensor "lm_head.weight" differs from "model.embed_tokens.weight" at element 3 (XGLM ties them; untied heads are not supported)');
  lm2.dispose();
});

test.run();
