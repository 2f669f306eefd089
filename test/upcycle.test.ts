/**
 * Sparse upcycling of m2m100-tiny into NLLB-MoE checkpoints: the invariant (no noise, no capacity
 * drop, moe_token_dropout 0 -> logits equal the dense model's at every real position, while the
 * router really spreads tokens over the experts), the written checkpoint (HF NllbMoe names and
 * config fields, reloads as nllb-moe through the generic loader with identical logits, survives
 * the HF writer), determinism by seed, what breaks the invariant on purpose, and option errors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { SafetensorsFile, type HostTensor } from '../convert/safetensors.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { upcycleCheckpoint } from '../models/nllb-moe/upcycle-source.js';
import { parseNllbMoeConfig } from '../models/nllb-moe/config.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { loadModel } from '../train/load-model.js';
import { exportHfModel } from '../train/export-hf.js';
import { fixturePath, throwsExactly, useBackend } from './helpers.js';

await useBackend((process.env.POLYGLOT_TEST_BACKEND as 'cpu' | undefined) ?? 'wasm');

const FIXTURE = fixturePath('m2m100-tiny');
/** Any checkpoint the NLLB-MoE class reads (m2m_100 or nllb-moe), through the registry's one loader. */
function load(dir: string, configOverrides: Record<string, unknown> = {}): NllbMoeForConditionalGeneration {
  return NllbMoeForConditionalGeneration.fromCheckpoint(openCheckpoint(dir), { configOverrides });
}
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-upcycle-'));
const ref = SafetensorsFile.open(path.join(FIXTURE, 'reference', 'tensors.safetensors'));
const D = 64;
const V = 1204;

function host(name: string): tf.Tensor {
  const h: HostTensor = ref.read(name);
  return h.data instanceof Float32Array ? tf.tensor(h.data, h.shape) : tf.tensor(Int32Array.from(h.data as ArrayLike<number | bigint>, Number), h.shape, 'int32');
}

interface Run {
  logits: Float32Array;
  decoderMask: number[];
  /** Distinct experts that received a surviving assignment, per sparse layer. */
  expertsUsed: number[];
}

function run(model: NllbMoeForConditionalGeneration, c: string): Run {
  return tf.tidy(() => {
    const decoderMask = host(`${c}/decoder_attention_mask`);
    const r = model.forward({
      inputIds: host(`${c}/input_ids`),
      attentionMask: host(`${c}/attention_mask`),
      decoderInputIds: host(`${c}/decoder_input_ids`),
      decoderAttentionMask: decoderMask,
      training: false,
    });
    return {
      logits: r.logits.dataSync().slice() as Float32Array,
      decoderMask: Array.from(decoderMask.dataSync()),
      expertsUsed: r.moeMetrics.map((m) => m.expertUsage.filter((n) => n > 0).length),
    };
  });
}

/** max |a - b| over real decoder positions. */
function maxDiffAtRealPositions(a: Run, b: Run): number {
  let worst = 0;
  a.decoderMask.forEach((real, pos) => {
    if (!real) return;
    for (let k = 0; k < V; k++) worst = Math.max(worst, Math.abs(a.logits[pos * V + k] - b.logits[pos * V + k]));
  });
  return worst;
}

/**
 * "Equal" in float32: g1 + g2 = 1 only to an ulp and the experts' matmuls see other row counts,
 * so we ask for a tenth of the fixture's own float32-vs-HF-float64 tolerance for that case.
 */
const cases = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'reference', 'cases.json'), 'utf8')).cases as { name: string; atol: number }[];
const equalWithin = (c: string) => cases.find((x) => x.name === c)!.atol / 10;

const dense = load(FIXTURE);
const CASES = ['forward', 'forward_left_padded_source', 'forward_beyond_max_positions'];
const denseRuns = Object.fromEntries(CASES.map((c) => [c, run(dense, c)]));

function upcycled(name: string, o: Parameters<typeof upcycleCheckpoint>[2]): string {
  const out = path.join(root, name);
  upcycleCheckpoint(FIXTURE, out, o);
  return out;
}

test('invariant: every layer upcycled to 4 experts computes the dense logits at every real position, with tokens spread over experts', () => {
  const dir = upcycled('all4', { experts: 4, sparseStep: 1, seed: 3 });
  const moe = load(dir);
  try {
    assert.is(moe.config.numExperts, 4);
    for (const c of CASES) {
      const r = run(moe, c);
      const diff = maxDiffAtRealPositions(r, denseRuns[c]);
      assert.ok(diff <= equalWithin(c), `${c}: upcycled vs dense logits differ by ${diff} (allowed ${equalWithin(c)})`);
      // 4 sparse layers, and the random router does not send everything to two experts
      assert.is(r.expertsUsed.length, 4);
      assert.ok(r.expertsUsed.every((n) => n >= 3), `${c}: experts used per layer ${r.expertsUsed}`);
    }
  } finally {
    moe.dispose();
  }
});

test('the checkpoint: HF NllbMoe names and config, reloads as nllb-moe with identical logits, survives the HF writer', () => {
  const dir = upcycled('step2', { experts: 4, sparseStep: 2, capacity: 16, seed: 1 });
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  assert.equal(
    [config.model_type, config.architectures, config.num_experts, config.encoder_sparse_step, config.decoder_sparse_step, config.expert_capacity, config.moe_token_dropout, config.router_bias, config.moe_eval_capacity_token_fraction],
    ['nllb-moe', ['NllbMoeForConditionalGeneration'], 4, 2, 2, 16, 0, false, 1],
  );
  // the fields HF's NllbMoeConfig reads, and the dense ones unchanged
  assert.equal([config.d_model, config.encoder_ffn_dim, config.activation_function, config.scale_embedding, config.dropout], [64, 128, 'relu', true, 0.1]);
  parseNllbMoeConfig(config);
  const names = SafetensorsFile.open(path.join(dir, 'model.safetensors')).names();
  for (const side of ['encoder', 'decoder']) {
    assert.ok(names.includes(`model.${side}.layers.0.ffn.fc1.weight`), `${side} layer 0 stays dense`);
    assert.ok(names.includes(`model.${side}.layers.1.ffn.router.classifier.weight`));
    for (let e = 0; e < 4; e++) for (const p of ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']) assert.ok(names.includes(`model.${side}.layers.1.ffn.experts.expert_${e}.${p}`));
    assert.not.ok(names.includes(`model.${side}.layers.1.ffn.fc1.weight`));
  }
  assert.ok(names.includes('model.decoder.layers.1.cross_attention.q_proj.weight') && names.includes('model.encoder.layers.0.ff_layer_norm.weight'));
  assert.not.ok(names.some((n) => /encoder_attn|final_layer_norm|embed_tokens|lm_head/.test(n)), 'NllbMoe names, tied aliases dropped');
  const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  assert.equal(st.read('model.encoder.layers.1.ffn.router.classifier.weight').shape, [4, D]);
  // experts are exact copies of the dense FFN
  const denseFc1 = SafetensorsFile.open(path.join(FIXTURE, 'model.safetensors')).read('model.decoder.layers.1.fc1.weight').data as Float32Array;
  assert.equal(Array.from(st.read('model.decoder.layers.1.ffn.experts.expert_3.fc1.weight').data as Float32Array), Array.from(denseFc1));

  const loaded = loadModel(dir);
  assert.is(loaded.arch, 'nllb-moe');
  assert.is(loaded.format.modelType, 'nllb-moe');
  const moe = loaded.model as NllbMoeForConditionalGeneration;
  const out = path.join(root, 'step2-written');
  try {
    const r = run(moe, 'forward_left_padded_source');
    assert.ok(maxDiffAtRealPositions(r, denseRuns.forward_left_padded_source) <= equalWithin('forward_left_padded_source'));
    exportHfModel(moe, out, { sourceDir: dir, config });
    const back = load(out);
    try {
      assert.equal(Array.from(run(back, 'forward_left_padded_source').logits), Array.from(r.logits));
    } finally {
      back.dispose();
    }
  } finally {
    moe.dispose();
  }
});

test('same seed, same checkpoint; another seed, another router', () => {
  const read = (dir: string) => SafetensorsFile.open(path.join(dir, 'model.safetensors')).read('model.encoder.layers.1.ffn.router.classifier.weight').data as Float32Array;
  const a = read(upcycled('seed7a', { experts: 4, seed: 7 }));
  const b = read(upcycled('seed7b', { experts: 4, seed: 7 }));
  const c = read(upcycled('seed8', { experts: 4, seed: 8 }));
  assert.equal(Array.from(a), Array.from(b));
  assert.not.equal(Array.from(a), Array.from(c));
  // HF's Linear init: normal(0, init_std = 0.02)
  const std = Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
  assert.ok(std > 0.015 && std < 0.025, `router std ${std}`);
});

test('what breaks the invariant on purpose: expert noise, a dropping eval capacity, moe_token_dropout', () => {
  const noisy = load(upcycled('noise', { experts: 4, sparseStep: 1, expertNoise: 0.01, seed: 2 }));
  const base = upcycled('plain', { experts: 4, sparseStep: 1, seed: 2 });
  const tight = load(base, { moe_eval_capacity_token_fraction: 0.1 });
  const dropout = load(base, { moe_token_dropout: 0.2 });
  try {
    for (const [name, m] of [['noise', noisy], ['capacity', tight], ['moe_token_dropout', dropout]] as const) {
      const diff = maxDiffAtRealPositions(run(m, 'forward'), denseRuns.forward);
      assert.ok(diff > 1e-3, `${name} should change the logits, max change ${diff}`);
    }
  } finally {
    noisy.dispose();
    tight.dispose();
    dropout.dispose();
  }
});

test('option errors name the option, expected and found', () => {
  const out = path.join(root, 'never');
  throwsExactly(() => upcycleCheckpoint(FIXTURE, out, { experts: 1 }), '--experts: expected an integer >= 2 (top-2 routing), found 1');
  throwsExactly(() => upcycleCheckpoint(FIXTURE, out, { experts: 4, sparseStep: 2, sparseLayers: ['1'] }), 'give --sparse-step or --sparse-layers, not both');
  throwsExactly(() => upcycleCheckpoint(FIXTURE, out, { experts: 4, sparseLayers: ['encoder.0'] }), /^--sparse-layers: encoder layers \[0\] cannot be written as an HF NllbMoeConfig/);
  throwsExactly(() => upcycleCheckpoint(FIXTURE, out, { experts: 4, sparseLayers: ['decoder.5'] }), '--sparse-layers: decoder layer 5 does not exist (the model has 2)');
  throwsExactly(() => upcycleCheckpoint(FIXTURE, out, { experts: 4, sparseLayers: ['x1'] }), '--sparse-layers: expected entries like 3, encoder.3 or decoder.1, found "x1"');
  throwsExactly(() => upcycleCheckpoint(FIXTURE, out, { experts: 4, capacity: 0 }), '--capacity: expected a positive integer or "auto", found 0');
  throwsExactly(() => upcycleCheckpoint(fixturePath('xglm-tiny'), out, { experts: 4 }), /field "model_type": expected "nllb-moe" or "m2m_100" \(to upcycle\), found "xglm"/);
  // an existing output is kept unless overwrite
  const dir = upcycled('exists', { experts: 2 });
  throwsExactly(() => upcycleCheckpoint(FIXTURE, dir, { experts: 2 }), /already exists/);
  assert.not.ok(fs.existsSync(out));
  // --sparse-layers as a step set; decoder only
  const only = upcycled('dec-only', { experts: 2, sparseLayers: ['decoder.0,decoder.1'] });
  const cfg = JSON.parse(fs.readFileSync(path.join(only, 'config.json'), 'utf8'));
  assert.equal([cfg.encoder_sparse_step, cfg.decoder_sparse_step], [0, 1]);
});

test('a dense-layered NLLB-MoE upcycles its dense layers and keeps its sparse ones', () => {
  const half = upcycled('half', { experts: 4, sparseStep: 2, seed: 5 });
  const full = path.join(root, 'half-to-all');
  const r = upcycleCheckpoint(half, full, { experts: 4, sparseStep: 1, seed: 6 });
  assert.equal(r.sparseLayers, { encoder: [0, 1], decoder: [0, 1] });
  const a = SafetensorsFile.open(path.join(half, 'model.safetensors'));
  const b = SafetensorsFile.open(path.join(full, 'model.safetensors'));
  const router = 'model.encoder.layers.1.ffn.router.classifier.weight';
  assert.equal(Array.from(b.read(router).data as Float32Array), Array.from(a.read(router).data as Float32Array), 'existing router kept');
  throwsExactly(() => upcycleCheckpoint(half, path.join(root, 'x'), { experts: 8, sparseStep: 1 }), /field "num_experts": the source already has 4 experts/);
  throwsExactly(() => upcycleCheckpoint(full, path.join(root, 'y'), { experts: 4, sparseStep: 2 }), /layers \[0\] are sparse in the source and would not be in the result/);
  const m = load(full);
  try {
    assert.ok(maxDiffAtRealPositions(run(m, 'forward'), denseRuns.forward) <= equalWithin('forward'));
  } finally {
    m.dispose();
  }
});

test.after(() => {
  dense.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

test.run();
