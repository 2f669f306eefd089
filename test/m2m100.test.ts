/**
 * M2M-100 / dense NLLB-200 (`model_type` m2m_100) as the all-dense NLLB-MoE: config parsing with
 * HF's defaults, the weight-name mapping both ways, every checkpoint layout (safetensors without
 * tied aliases, sharded .bin whose aliases share one storage, stale `embed_positions.weights` /
 * `final_logits_bias` keys, untied lm_head), the FFN output dropout flag, the HF writer round trip
 * and flat tensor counts in training and generation. The numbers themselves are pinned by
 * `polyglot verify ../shared/fixtures/m2m100-tiny` (test/m2m100-verify.test.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { SafetensorsFile, type HostTensor } from '../convert/safetensors.js';
import { parseM2M100Config } from '../models/nllb-moe/m2m100-config.js';
import { m2m100Format } from '../models/nllb-moe/m2m100-format.js';
import { isIgnoredM2m100Key, m2m100ToNllbMoeName, nllbMoeToM2m100Name } from '../models/nllb-moe/m2m100-names.js';
import { parseNllbMoeConfig } from '../models/nllb-moe/config.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { formatFor } from '../models/checkpoint-format.js';
import { findModelEntry, describeModel } from '../models/registry.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { exportHfModel } from '../train/export-hf.js';
import { distinctParameters } from '../core/trainable.js';
import { fixturePath, throwsExactly, useBackend } from './helpers.js';
import { runCli } from './cli-run.js';
import { stateDictPickle, torchZip, type FakeTensor } from './convert-torchfile.js';

await useBackend('wasm');

const FIXTURE = fixturePath('m2m100-tiny');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-m2m100-'));
const ref = SafetensorsFile.open(path.join(FIXTURE, 'reference', 'tensors.safetensors'));
const fixtureConfig = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;
const weights = SafetensorsFile.open(path.join(FIXTURE, 'model.safetensors'));

function host(name: string): tf.Tensor {
  const h: HostTensor = ref.read(name);
  return h.data instanceof Float32Array ? tf.tensor(h.data, h.shape) : tf.tensor(Int32Array.from(h.data as ArrayLike<number | bigint>, Number), h.shape, 'int32');
}

/** A model from a directory through the registry's one loader (the format chosen by model_type). */
function load(dir: string, configOverrides: Record<string, unknown> = {}): NllbMoeForConditionalGeneration {
  return NllbMoeForConditionalGeneration.fromCheckpoint(openCheckpoint(dir), { configOverrides });
}
const hfName = m2m100Format.weights.hfName;

/** Eval logits of the fixture's left-padded forward case. */
function logitsOf(model: NllbMoeForConditionalGeneration, c = 'forward_left_padded_source'): Float32Array {
  return tf.tidy(() => {
    const r = model.forward({
      inputIds: host(`${c}/input_ids`),
      attentionMask: host(`${c}/attention_mask`),
      decoderInputIds: host(`${c}/decoder_input_ids`),
      decoderAttentionMask: host(`${c}/decoder_attention_mask`),
      training: false,
    });
    return r.logits.dataSync().slice() as Float32Array;
  });
}

function copyFixtureFiles(dir: string, skip: (f: string) => boolean): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(FIXTURE)) {
    if (fs.statSync(path.join(FIXTURE, f)).isFile() && !skip(f)) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  }
}

test('config: every M2M100Config default is HF\'s; the result is the all-dense NLLB-MoE with FFN output dropout = dropout', () => {
  const d = parseM2M100Config({ model_type: 'm2m_100' }, 'x/config.json');
  assert.equal(
    [d.vocabSize, d.maxPositionEmbeddings, d.dModel, d.encoderLayers, d.decoderLayers, d.encoderFfnDim, d.decoderFfnDim, d.encoderAttentionHeads, d.decoderAttentionHeads],
    [128112, 1024, 1024, 12, 12, 4096, 4096, 16, 16],
  );
  assert.equal([d.encoderLayerdrop, d.decoderLayerdrop, d.dropout, d.attentionDropout, d.activationDropout, d.initStd], [0.05, 0.05, 0.1, 0.1, 0, 0.02]);
  assert.equal([d.activationFunction, d.scaleEmbedding, d.decoderStartTokenId, d.padTokenId, d.bosTokenId, d.eosTokenId, d.tieWordEmbeddings, d.useCache], ['relu', true, 2, 1, 0, 2, true, true]);
  assert.equal([d.encoderSparseStep, d.decoderSparseStep, d.moeTokenDropout, d.ffnOutputDropout], [0, 0, 0, 'dropout']);
  // NLLB-MoE keeps HF's NllbMoe rule
  assert.is(parseNllbMoeConfig({}).ffnOutputDropout, undefined);
  // HF attribute_map aliases win over the named fields; MoE fields of a stray config are ignored as HF does
  const a = parseM2M100Config({ model_type: 'm2m_100', d_model: 8, hidden_size: 16, num_attention_heads: 2, num_experts: 'x', encoder_sparse_step: 1 }, 'x/config.json');
  assert.equal([a.dModel, a.encoderAttentionHeads, a.encoderSparseStep], [16, 2, 0]);
  throwsExactly(() => parseM2M100Config({ model_type: 'm2m_100', scale_embedding: 'yes' }, 'x/config.json'), 'x/config.json: field "scale_embedding": expected true or false, found "yes"');
  throwsExactly(() => parseM2M100Config({ d_model: 64, encoder_attention_heads: 5 }, 'x/config.json'), 'x/config.json: field "encoder_attention_heads": expected a divisor of d_model=64, found 5');
});

test('registry: m2m_100 is a format of the NLLB-MoE class (its third entry); info rows; other model_types refused by name', () => {
  const entry = findModelEntry('m2m_100');
  assert.ok(entry !== undefined);
  assert.is(entry.format, m2m100Format);
  assert.is(entry.architecture.arch, 'nllb-moe');
  assert.equal(entry.format.tokenizerKinds, ['nllb', 'm2m100']);
  assert.ok(NllbMoeForConditionalGeneration.formats.includes(m2m100Format));
  throwsExactly(() => formatFor(NllbMoeForConditionalGeneration.formats, { model_type: 'xglm' }, 'x/config.json'), 'x/config.json: field "model_type": expected "nllb-moe" or "m2m_100", found "xglm"');
  const rows = describeModel(openCheckpoint(FIXTURE));
  assert.match(JSON.stringify(rows), /"encoder ffn dim":128/);
  assert.match(JSON.stringify(rows), /"tied head":true/);
  // a config whose ffn dim disagrees with the tensors fails before allocation, naming both
  const dir = path.join(root, 'bad-ffn');
  copyFixtureFiles(dir, (f) => f === 'config.json');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...fixtureConfig, encoder_ffn_dim: 100000 }));
  throwsExactly(() => load(dir), /encoder_ffn_dim and d_model give model\.encoder\.layers\.0\.fc1\.weight the shape \[100000,64\], the checkpoint has \[128,64\]/);
});

test('the FFN block output drops with `dropout` in M2M100 layers, `activation_dropout` in NLLB-MoE ones', () => {
  const m = load(FIXTURE, { dropout: 0.3, activation_dropout: 0.05 });
  try {
    assert.equal([...m.model.encoderLayers, ...m.model.decoderLayers].map((l) => l.cfg.ffnOutputDropout), [0.3, 0.3, 0.3, 0.3]);
    assert.equal(m.model.encoderLayers.map((l) => l.ffn.dense!.cfg.activationDropout), [0.05, 0.05]);
  } finally {
    m.dispose();
  }
  const n = load(fixturePath('nllb-moe-tiny'), { dropout: 0.3, activation_dropout: 0.05 });
  try {
    assert.equal(n.model.encoderLayers.map((l) => l.cfg.ffnOutputDropout), [0.05, 0.05]);
  } finally {
    n.dispose();
  }
});

test('weight names: every M2M100 name of the fixture maps to an NLLB-MoE name and back', () => {
  const names = weights.names();
  assert.equal(names.length, 89); // shared + 2 x 16 encoder + 2 x 26 decoder + 2 final layer norms x 2
  const mapped = names.map(m2m100ToNllbMoeName);
  assert.ok(mapped.includes('model.decoder.layers.1.cross_attention.k_proj.weight'));
  assert.ok(mapped.includes('model.decoder.layers.1.cross_attention_layer_norm.bias'));
  assert.ok(mapped.includes('model.encoder.layers.0.ffn.fc1.weight'));
  assert.ok(mapped.includes('model.encoder.layers.0.ff_layer_norm.weight'));
  assert.not.ok(mapped.some((n) => /encoder_attn|final_layer_norm|layers\.\d+\.fc\d/.test(n)));
  assert.equal(mapped.map(nllbMoeToM2m100Name), names);
  assert.is(m2m100ToNllbMoeName('model.shared.weight'), 'model.shared.weight');
  assert.is(m2m100ToNllbMoeName('model.encoder.layer_norm.weight'), 'model.encoder.layer_norm.weight');
  throwsExactly(() => nllbMoeToM2m100Name('model.encoder.layers.1.ffn.router.classifier.weight'), /has no M2M100 name/);
  assert.ok(['model.encoder.embed_positions.weights', 'model.decoder.embed_positions.weights', 'final_logits_bias', 'model.final_logits_bias'].every(isIgnoredM2m100Key));
  assert.not.ok(isIgnoredM2m100Key('model.shared.weight'));
});

test('the format names every parameter as M2M100 does (the shared embedding once)', () => {
  const m = load(FIXTURE);
  try {
    assert.equal(distinctParameters(m).map((p) => hfName(p.name)).sort(), weights.names().sort());
  } finally {
    m.dispose();
  }
});

/** Writes `tensors` as a torch.save zip whose entries with the same `storage` share one storage. */
function writeBin(file: string, tensors: { name: string; storage: string; value: HostTensor }[]): void {
  const storages: Record<string, Uint8Array> = {};
  const fakes: FakeTensor[] = tensors.map((t) => {
    const data = t.value.data as Float32Array;
    storages[t.storage] ??= new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    const shape = t.value.shape;
    const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    return { name: t.name, storageType: 'FloatStorage', key: t.storage, numel: data.length, offset: 0, shape, stride };
  });
  fs.writeFileSync(file, torchZip(stateDictPickle(fakes, { protocol4: true }), storages));
}

test('layouts: sharded .bin with tied aliases sharing storage and stale buffers loads to the same logits', () => {
  const dir = path.join(root, 'bin-sharded');
  copyFixtureFiles(dir, (f) => f === 'model.safetensors');
  const shared = weights.read('model.shared.weight');
  const d = fixtureConfig.d_model as number;
  const first = [
    ...['model.shared.weight', 'model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight', 'lm_head.weight'].map((name) => ({ name, storage: '0', value: shared })),
    { name: 'model.encoder.embed_positions.weights', storage: '1', value: { dtype: 'F32', shape: [34, d], data: new Float32Array(34 * d).fill(7) } as HostTensor },
    { name: 'final_logits_bias', storage: '2', value: { dtype: 'F32', shape: [1, shared.shape[0]], data: new Float32Array(shared.shape[0]).fill(5) } as HostTensor },
  ];
  const rest = weights.names().filter((n) => n !== 'model.shared.weight');
  const second = rest.map((name, i) => ({ name, storage: String(i), value: weights.read(name) }));
  writeBin(path.join(dir, 'pytorch_model-00001-of-00002.bin'), first);
  writeBin(path.join(dir, 'pytorch_model-00002-of-00002.bin'), second);
  const weightMap = Object.fromEntries([...first.map((t) => [t.name, 'pytorch_model-00001-of-00002.bin']), ...second.map((t) => [t.name, 'pytorch_model-00002-of-00002.bin'])]);
  fs.writeFileSync(path.join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  const a = load(FIXTURE);
  const b = load(dir);
  try {
    assert.equal(Array.from(logitsOf(b)), Array.from(logitsOf(a)));
  } finally {
    a.dispose();
    b.dispose();
  }
  // single .bin whose only embedding key is an alias (no model.shared.weight)
  const single = path.join(root, 'bin-alias-only');
  copyFixtureFiles(single, (f) => f === 'model.safetensors');
  writeBin(path.join(single, 'pytorch_model.bin'), [{ name: 'model.encoder.embed_tokens.weight', storage: 'e', value: shared }, ...second]);
  const c = load(single);
  const e = load(FIXTURE);
  try {
    assert.equal(Array.from(logitsOf(c)), Array.from(logitsOf(e)));
  } finally {
    c.dispose();
    e.dispose();
  }
});

test('untied lm_head: its own matrix (2 x shared gives exactly 2 x the tied logits); export-hf stores it', () => {
  const dir = path.join(root, 'untied');
  copyFixtureFiles(dir, (f) => f === 'model.safetensors' || f === 'config.json');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...fixtureConfig, tie_word_embeddings: false }));
  const shared = weights.read('model.shared.weight');
  const head = { ...shared, data: (shared.data as Float32Array).map((x) => 2 * x) };
  writeBin(path.join(dir, 'pytorch_model.bin'), [
    ...weights.names().map((name, i) => ({ name, storage: String(i), value: weights.read(name) })),
    { name: 'lm_head.weight', storage: 'head', value: head },
  ]);
  const tied = load(FIXTURE);
  const untied = load(dir);
  try {
    assert.ok(untied.lmHead !== undefined);
    const t = logitsOf(tied);
    const u = logitsOf(untied);
    let worst = 0;
    t.forEach((x, i) => (worst = Math.max(worst, Math.abs(u[i] - 2 * x))));
    assert.ok(worst < 1e-5, `untied logits vs 2 x tied: ${worst}`);
    const out = path.join(root, 'untied-export');
    exportHfModel(untied, out, { sourceDir: dir, config: { ...fixtureConfig, tie_word_embeddings: false }, hfName });
    const names = SafetensorsFile.open(path.join(out, 'model.safetensors')).names();
    assert.ok(names.includes('lm_head.weight') && names.includes('model.shared.weight'));
    assert.not.ok(names.includes('model.encoder.embed_tokens.weight'));
    const back = load(out);
    try {
      assert.equal(Array.from(logitsOf(back)), Array.from(u));
    } finally {
      back.dispose();
    }
  } finally {
    tied.dispose();
    untied.dispose();
  }
  // tie_word_embeddings false without an lm_head tensor names what is missing
  const bad = path.join(root, 'untied-missing');
  copyFixtureFiles(bad, (f) => f === 'config.json');
  fs.writeFileSync(path.join(bad, 'config.json'), JSON.stringify({ ...fixtureConfig, tie_word_embeddings: false }));
  throwsExactly(() => load(bad), /missing tensor "lm_head.weight"/);
});

test('HF writer: export-hf writes an m2m_100 directory as save_pretrained (tied aliases dropped) with identical logits', () => {
  const m = load(FIXTURE);
  const out = path.join(root, 'export-hf');
  try {
    exportHfModel(m, out, { sourceDir: FIXTURE, config: fixtureConfig, hfName });
    const written = SafetensorsFile.open(path.join(out, 'model.safetensors'));
    assert.equal(written.names().sort(), weights.names().sort());
    for (const n of weights.names()) assert.equal(Array.from(written.read(n).data as Float32Array), Array.from(weights.read(n).data as Float32Array), n);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    assert.is(cfg.model_type, 'm2m_100');
    for (const f of ['sentencepiece.bpe.model', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) assert.ok(fs.existsSync(path.join(out, f)), f);
    const back = load(out);
    try {
      assert.equal(Array.from(logitsOf(back, 'forward')), Array.from(logitsOf(m, 'forward')));
    } finally {
      back.dispose();
    }
  } finally {
    m.dispose();
  }
});

test('--train-only / --freeze globs may spell parameters as M2M100 does (fc1, encoder_attn) or as NLLB-MoE does', () => {
  const data = path.join(fixturePath('corpus'), 'parallel', 'fr.jsonl');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'm2m-globs-'));
  const trained = (name: string, globs: string[]) => {
    const r = runCli(['train', '--model', fixturePath('m2m100-tiny'), '--data', data, '--out', path.join(out, name), '--max-steps', '1', '--eval-every', '0', '--dev-translations', '0', ...globs]);
    assert.is(r.status, 0, r.stderr);
    return /training ([\d.]+k?) of ([\d.]+k?) parameters/.exec(r.stdout + r.stderr)?.slice(1, 3).join(' of ');
  };
  const fc1 = trained('m2m-fc1', ['--train-only', '**.fc1.*']);
  assert.is(fc1, trained('nllb-fc1', ['--train-only', '**.ffn.fc1.*']));
  assert.is.not(fc1, undefined);
  // freezing the cross-attention by its M2M100 name trains everything else
  const all = trained('all', []);
  const noCross = trained('m2m-cross', ['--freeze', 'model.decoder.layers.*.encoder_attn.**']);
  assert.is(noCross, trained('nllb-cross', ['--freeze', 'model.decoder.layers.*.cross_attention.**']));
  assert.is.not(noCross, all);
  assert.match(runCli(['train', '--model', fixturePath('m2m100-tiny'), '--data', data, '--out', path.join(out, 'none'), '--max-steps', '1', '--train-only', '**.fc3.*']).stderr, /--train-only "\*\*\.fc3\.\*": matches no parameter/);
});

test('training steps and generation keep the tensor count flat', async () => {
  const m = load(FIXTURE);
  try {
    const batch = { input_ids: host('loss/input_ids'), attention_mask: host('loss/attention_mask'), labels: host('loss/labels') };
    const params = distinctParameters(m);
    const rng = new Rng(1);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => m.computeLoss(batch, { training: true, rng }).loss, params.map((p) => p.variable));
      const loss = value.dataSync()[0];
      tf.tidy(() => params.forEach((p) => grads[p.variable.name] && p.variable.assign(tf.sub(p.variable, tf.mul(grads[p.variable.name], 1e-3)))));
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    };
    step();
    const before = tf.memory().numTensors;
    const losses = [step(), step(), step()];
    assert.is(tf.memory().numTensors, before, 'training leaked tensors');
    assert.ok(losses.every(Number.isFinite));
    const ids = host('generate_greedy/input_ids') as tf.Tensor2D;
    const mask = host('generate_greedy/attention_mask') as tf.Tensor2D;
    const s = new NllbMoeSession(m, ids, mask);
    const start = tf.tensor2d(Array.from({ length: ids.shape[0] }, () => [2]), undefined, 'int32');
    s.step(start).dispose(); // the first step creates the cross-attention caches
    const genBefore = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) s.step(start).dispose();
    assert.is(tf.memory().numTensors, genBefore, 'generation steps leaked tensors');
    s.dispose();
    tf.dispose([ids, mask, start, ...Object.values(batch)]);
  } finally {
    m.dispose();
  }
});

test.after(() => fs.rmSync(root, { recursive: true, force: true }));

test.run();
