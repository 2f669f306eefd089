import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { PolyglotError } from '../core/errors.js';
import { SafetensorsFile, type HostTensor } from '../convert/safetensors.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { parseNllbMoeConfig, isSparseLayer } from '../models/nllb-moe/config.js';
import { loadNllbMoeWeights } from '../models/nllb-moe/weights.js';
import { NllbMoeForConditionalGeneration, shiftTokensRight } from '../models/nllb-moe/model.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { verifyFixture } from '../verify/verify.js';
import { hostToTensor } from '../verify/train-cases.js';
import { eagerOps } from '../ops/eager.js';
import { AdamW } from '../train/adamw.js';
import { distinctParameters } from '../core/trainable.js';
import type { Ops } from '../ops/ops.js';
import { fixturePath, useBackend } from './helpers.js';

await useBackend('wasm');

const dir = fixturePath('nllb-moe-tiny');
const ck = openCheckpoint(dir);
const refs = SafetensorsFile.open(fixturePath('nllb-moe-tiny', 'reference', 'tensors.safetensors'));
const ref = (n: string): tf.Tensor => hostToTensor(refs.read(n) as HostTensor);

test('config: HF defaults, fixture values, typed errors naming config.json and the field', () => {
  const d = parseNllbMoeConfig({});
  assert.is(d.numExperts, 128);
  assert.is(d.expertCapacity, 64);
  assert.is(d.moeTokenDropout, 0.2);
  assert.is(d.encoderSparseStep, 4);
  assert.is(d.routerIgnorePaddingTokens, false);
  const c = parseNllbMoeConfig(ck.config);
  assert.is(c.numExperts, 4);
  assert.is(c.dModel, 64);
  assert.is(parseNllbMoeConfig({ expert_capacity: null }).expertCapacity, null);
  assert.throws(() => parseNllbMoeConfig({ num_experts: '4' }, 'x/config.json'), (e: Error) => e instanceof PolyglotError && /x\/config.json: field "num_experts": expected an integer, found "4"/.test(e.message));
  assert.throws(() => parseNllbMoeConfig({ batch_prioritized_routing: 1 }), /config.json: field "batch_prioritized_routing": expected true or false/);
  assert.throws(() => parseNllbMoeConfig({ router_dtype: 'float64' }), /router_dtype/);
  assert.equal([0, 1, 2, 3].map((i) => isSparseLayer(i, 2)), [false, true, false, true]);
  assert.equal([0, 1].map((i) => isSparseLayer(i, 0)), [false, false]);
});

test('every fixture case passes (forward, capacity drop, losses, grads, AdamW, greedy generation)', async () => {
  const results = await verifyFixture(dir);
  for (const r of results) assert.is(r.status, 'pass', `${r.case}: ${r.message}`);
  assert.ok(results.length >= 9);
});

test('parameters: HF names, shared embedding once, cross_attention naming; missing tensor is a PolyglotError', () => {
  const model = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  const names = model.namedParameters().map((p) => p.name);
  const stored = ck.tensors.names();
  assert.equal([...names].sort(), [...stored].sort());
  assert.ok(names.includes('model.decoder.layers.0.cross_attention.k_proj.weight'));
  assert.ok(names.includes('model.encoder.layers.1.ffn.experts.expert_3.fc2.bias'));
  assert.is(names.filter((n) => n.includes('shared')).length, 1);
  const missing = { ...ck.tensors, has: (n: string) => n !== 'model.encoder.layers.1.ffn.router.classifier.weight' && ck.tensors.has(n), names: () => stored, meta: ck.tensors.meta.bind(ck.tensors), read: ck.tensors.read.bind(ck.tensors) };
  assert.throws(() => loadNllbMoeWeights(model, missing, 'ckpt'), /ckpt: missing tensor "model.encoder.layers.1.ffn.router.classifier.weight"/);
  model.dispose();
});

test('tied aliases (.bin layouts) fill model.shared.weight; wrong shapes are named', () => {
  const model = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  const shared = ck.tensors.read('model.shared.weight');
  const rename = (alias: string) => ({
    names: () => ck.tensors.names().map((n) => (n === 'model.shared.weight' ? alias : n)),
    has: (n: string) => (n === alias ? true : n !== 'model.shared.weight' && ck.tensors.has(n)),
    meta: (n: string) => ck.tensors.meta(n === alias ? 'model.shared.weight' : n),
    read: (n: string) => ck.tensors.read(n === alias ? 'model.shared.weight' : n),
  });
  for (const alias of ['lm_head.weight', 'model.decoder.embed_tokens.weight']) {
    const z = tf.zeros([1204, 64]);
    model.namedParameters()[0].variable.write(z);
    z.dispose();
    loadNllbMoeWeights(model, rename(alias));
    const got = model.namedParameters().find((p) => p.name === 'model.shared.weight')!.variable.read().dataSync();
    assert.is(got[1234], (shared.data as Float32Array)[1234]);
  }
  const bad = {
    ...rename('model.shared.weight'),
    read: (n: string) => (n === 'model.decoder.layer_norm.weight' ? { dtype: 'F32' as const, shape: [63], data: new Float32Array(63) } : ck.tensors.read(n)),
  };
  assert.throws(() => loadNllbMoeWeights(model, bad, 'ck'), /ck: tensor "model.decoder.layer_norm.weight": expected shape \[64\], found \[63\]/);
  model.dispose();
});

test('capacity drops and losses match the fixture notes; metrics exposed; no tensor leak', () => {
  const model = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { configOverrides: { moe_eval_capacity_token_fraction: 0.25 } });
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const r = model.forward({
      inputIds: ref('forward/input_ids'),
      attentionMask: ref('forward/attention_mask'),
      decoderInputIds: ref('forward/decoder_input_ids'),
      decoderAttentionMask: ref('forward/decoder_attention_mask'),
    });
    const enc = r.moeMetrics.find((m) => m.side === 'encoder')!;
    const dec = r.moeMetrics.find((m) => m.side === 'decoder')!;
    // notes: capacity 9 / 8, dropped assignments 24 / 22
    assert.is(enc.capacity, 9);
    assert.is(dec.capacity, 8);
    assert.is(enc.droppedAssignments, 24);
    assert.is(dec.droppedAssignments, 22);
    assert.is(enc.expertUsage.reduce((a, b) => a + b, 0), enc.assignments - 24);
    assert.ok(enc.routerEntropy > 0 && enc.routerEntropy < Math.log(4));
  });
  model.dispose();
  const m2 = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  tf.tidy(() => {
    const batch = { input_ids: ref('loss/input_ids'), attention_mask: ref('loss/attention_mask'), labels: ref('loss/labels') };
    const hf = m2.computeLoss(batch, { training: false, moeLoss: 'hf', outputRouterLogits: true });
    // notes: the real decoder routers' load-balancing loss (not used by HF's total)
    assert.ok(Math.abs(hf.components.decoder_aux_loss_real_routers.dataSync()[0] - 3.04699092) < 1e-4);
    assert.is(hf.components.decoder_aux_loss.dataSync()[0], hf.components.encoder_aux_loss.dataSync()[0]);
    const std = m2.computeLoss(batch, { training: false });
    assert.ok(Math.abs(std.components.encoder_aux_loss.dataSync()[0] - 2.51043976) < 1e-4);
    assert.ok(Math.abs(std.components.decoder_z_loss.dataSync()[0] - 85.063407) < 1e-3);
    assert.ok('moe/encoder.1/dropped_token_fraction' in std.components);
    // without output_router_logits HF's loss is the LM loss alone
    const plain = m2.computeLoss(batch, { training: false, moeLoss: 'hf', outputRouterLogits: false });
    assert.is(plain.loss.dataSync()[0], plain.components.lm_loss.dataSync()[0]);
  });
  assert.is(tf.memory().numTensors, before + 0);
  m2.dispose();
});

test('shift_tokens_right: start token, -100 -> pad', () => {
  const s = shiftTokensRight(tf.tensor2d([[5, 6, -100], [7, -100, -100]], [2, 3], 'int32'), 1, 2);
  assert.equal(Array.from(s.dataSync()), [2, 5, 6, 2, 7, 1]);
  s.dispose();
});

test('session: cached step-by-step decoding equals the full forward (fraction 1: no capacity effect); reorder', () => {
  const model = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  const ids = ref('forward/input_ids') as tf.Tensor2D;
  const mask = ref('forward/attention_mask') as tf.Tensor2D;
  const dec = tf.tensor2d([[2, 1057, 40, 41], [2, 1057, 50, 51], [2, 1057, 60, 61]], [3, 4], 'int32');
  const full = tf.tidy(() => model.forward({ inputIds: ids, attentionMask: mask, decoderInputIds: dec }).logits.arraySync() as number[][][]);
  const before = tf.memory().numTensors;
  const session = new NllbMoeSession(model, ids, mask);
  for (let t = 0; t < 4; t++) {
    const col = tf.slice(dec, [0, t], [3, 1]);
    const lg = session.step(col);
    const got = lg.arraySync();
    for (let b = 0; b < 3; b++) {
      const maxErr = Math.max(...got[b].map((v, i) => Math.abs(v - full[b][t][i])));
      assert.ok(maxErr < 1e-4, `step ${t} row ${b}: ${maxErr}`);
    }
    tf.dispose([col, lg]);
  }
  session.reorder(Int32Array.from([2, 0]));
  assert.is(session.batchSize, 2);
  const lg = session.step(tf.tensor2d([[70], [80]], [2, 1], 'int32'));
  assert.equal(lg.shape, [2, 1204]);
  lg.dispose();
  session.dispose();
  assert.ok(tf.memory().numTensors <= before + 2, 'session leaves at most the step inputs');
  tf.dispose([ids, mask, dec]);
  model.dispose();
});

test('training forward: LayerDrop and masking are seeded (same seed, same loss)', () => {
  const model = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { configOverrides: { encoder_layerdrop: 0.5, decoder_layerdrop: 0.5 } });
  const batch = { input_ids: ref('loss/input_ids'), attention_mask: ref('loss/attention_mask'), labels: ref('loss/labels') };
  const lossAt = (seed: number, mode?: 'hf') => tf.tidy(() => model.computeLoss(batch, { training: true, rng: new Rng(seed), expertOutputMasking: mode }).loss.dataSync()[0]);
  assert.is(lossAt(4), lossAt(4));
  assert.is(lossAt(4, 'hf'), lossAt(4, 'hf'));
  const many = new Set([1, 2, 3, 4, 5, 6].map((s) => lossAt(s).toFixed(5)));
  assert.ok(many.size > 1);
  const evalA = tf.tidy(() => model.computeLoss(batch, { training: false }).loss.dataSync()[0]);
  const evalB = tf.tidy(() => model.computeLoss(batch, { training: false }).loss.dataSync()[0]);
  assert.is(evalA, evalB);
  tf.dispose(Object.values(batch));
  model.dispose();
});

test('cached decoding with a decoder mask: each row\'s new token uses its own mask column for the router', () => {
  const model = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  const c = model.config;
  tf.tidy(() => {
    const ids = ref('forward/input_ids').slice([0, 0], [2, -1]);
    const mask = ref('forward/attention_mask').slice([0, 0], [2, -1]);
    const enc = model.model.encode(eagerOps, ids, mask, { training: false }).lastHiddenState;
    const first = model.model.decode(eagerOps, tf.tensor2d([[2, 1057], [2, 1057]], [2, 2], 'int32'), undefined, enc, mask, undefined, 0, { training: false });
    // row 0's new token is padding, row 1's is real; the last batch row (HF's quirk) would say "real" for both
    const decMask = tf.tensor2d([[1, 1, 0], [1, 1, 1]], [2, 3], 'int32');
    const step = model.model.decode(eagerOps, tf.tensor2d([[c.padTokenId], [40]], [2, 1], 'int32'), decMask, undefined, mask, first.present, 2, { training: false });
    const r = step.routers[1]!;
    assert.is(r.plan!.stats.routedTokens, 1);
    assert.equal(Array.from(r.combineWeights.dataSync()).slice(0, 4), [0, 0, 0, 0]);
  });
  model.dispose();
});

test('training with random routing, token masking, LayerDrop and the standard loss lowers the loss; memory flat', () => {
  const model = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { configOverrides: { second_expert_policy: 'random', batch_prioritized_routing: true, expert_capacity: 12 } });
  const batch = { input_ids: ref('loss/input_ids'), attention_mask: ref('loss/attention_mask'), labels: ref('loss/labels') };
  const params = distinctParameters(model);
  const opt = new AdamW(params, { lr: 3e-3 });
  const rng = new Rng(11);
  const evalLoss = () => tf.tidy(() => model.computeLoss(batch, { training: false }).loss.dataSync()[0]);
  const first = evalLoss();
  let tensors = -1;
  let routerSteps = 0;
  for (let step = 0; step < 12; step++) {
    const { value, grads } = tf.variableGrads(() => model.computeLoss(batch, { training: true, rng }).loss, params.map((p) => p.variable));
    const named = new Map(params.filter((p) => grads[p.variable.name]).map((p) => [p.name, grads[p.variable.name]]));
    // LayerDrop (0.05) may skip the sparse layer on a step: then its router has no gradient
    if (named.has('model.encoder.layers.1.ffn.router.classifier.weight')) routerSteps++;
    opt.step(named);
    tf.dispose([value, ...Object.values(grads)]);
    if (step === 1) tensors = tf.memory().numTensors;
  }
  assert.is(tf.memory().numTensors, tensors);
  assert.ok(routerSteps >= 8, `router gradient in ${routerSteps} of 12 steps`);
  const last = evalLoss();
  assert.ok(last < first - 0.5, `loss ${first} -> ${last}`);
  opt.dispose();
  tf.dispose(Object.values(batch));
  model.dispose();
});

test('the graph code path (dense-masked experts, tensor routing) reproduces the eager logits with capacity drops', () => {
  const model = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { configOverrides: { moe_eval_capacity_token_fraction: 0.25 } });
  const graphLikeOps: Ops<tf.Tensor> = { ...eagerOps, kind: 'graph' };
  const [a, b] = [eagerOps, graphLikeOps].map((o) =>
    tf.tidy(() => {
      const r = model.run(o, ref('forward/input_ids'), ref('forward/attention_mask'), ref('forward/decoder_input_ids'), ref('forward/decoder_attention_mask'), { training: false });
      return { logits: Array.from(r.logits.dataSync()), idx: Array.from(r.decoder.routers[1]!.top1Index.dataSync()) };
    }),
  );
  assert.equal(b.idx, a.idx);
  const err = Math.max(...a.logits.map((v, i) => Math.abs(v - b.logits[i])));
  assert.ok(err < 1e-4, `max logit difference ${err}`);
  model.dispose();
});

test.run();
