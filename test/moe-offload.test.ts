/**
 * Expert offloading (`maxMemoryGB` / `--max-memory`, layers/moe/expert-store.ts): a random-weight
 * NLLB-MoE with 32 experts in every 2nd layer, written as a checkpoint, loaded fully resident and
 * offloaded under small budgets. The offloaded model must give the same logits and greedy tokens,
 * read only experts that receive tokens, and never hold more expert bytes than the budget leaves.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { writeHfModelDir } from '../convert/hf-writer.js';
import { withInitialValues } from '../layers/base.js';
import { applyWeightPrecision } from '../layers/weight-precision.js';
import { float32ParameterBytes, formatExpertCacheStats } from '../layers/moe/expert-store.js';
import { parseNllbMoeConfig } from '../models/nllb-moe/config.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { generate } from '../generation/generate.js';
import { Rng } from '../core/random.js';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import { fixturePath, projectFixturePath, useBackend } from './helpers.js';
import { verifyFixture } from '../verify/verify.js';
import { quantizeCheckpoint } from '../models/quantize-checkpoint.js';
import { expectOneLineError, runCli } from './cli-run.js';

await useBackend('wasm');

const NUM_EXPERTS = 32;
const CONFIG = {
  model_type: 'nllb-moe',
  d_model: 16,
  encoder_layers: 4,
  decoder_layers: 4,
  encoder_ffn_dim: 32,
  decoder_ffn_dim: 32,
  encoder_attention_heads: 2,
  decoder_attention_heads: 2,
  num_experts: NUM_EXPERTS,
  encoder_sparse_step: 2,
  decoder_sparse_step: 2,
  expert_capacity: 8,
  moe_eval_capacity_token_fraction: 1.0,
  vocab_size: 64,
  max_position_embeddings: 64,
  dropout: 0,
  attention_dropout: 0,
  activation_dropout: 0,
  pad_token_id: 1,
  bos_token_id: 0,
  eos_token_id: 2,
  decoder_start_token_id: 2,
};
/** float32 bytes of one expert: fc1 [32, 16] + [32], fc2 [16, 32] + [16]. */
const EXPERT_BYTES = 4 * (2 * 16 * 32 + 32 + 16);
/** Sparse layers: 1 and 3 on each side. */
const SPARSE_LAYERS = 4;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-offload-'));
const modelDir = path.join(dir, 'model');

/** Writes the random checkpoint (routers with a large spread, so tokens go to many experts). */
function writeCheckpoint(): void {
  const config = parseNllbMoeConfig(CONFIG, 'test config');
  let seed = 1;
  const model = withInitialValues(
    (name, shape) => tf.randomNormal(shape, 0, name.includes('router') ? 2 : shape.length > 1 ? 0.3 : 0.1, 'float32', seed++),
    () => new NllbMoeForConditionalGeneration(config),
  );
  const tensors = model.namedParameters().map((p) => {
    const value = tf.tidy(() => (p.transposed ? tf.transpose(p.variable.read()) : p.variable.read().clone()));
    const data = value.dataSync() as Float32Array;
    const shape = value.shape.slice();
    value.dispose();
    return { name: p.name, shape, data };
  });
  model.dispose();
  writeHfModelDir(modelDir, { config: CONFIG, tensors }, { dtype: 'float32' });
}
writeCheckpoint();

const ck = openCheckpoint(modelDir);
const inputIds = [
  [5, 9, 17, 33, 41, 12, 2],
  [7, 7, 21, 60, 3, 2, 1],
];
const attention = [
  [1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 0],
];
const decoderIds = [
  [2, 11, 23, 8, 40],
  [2, 30, 5, 5, 19],
];

function logitsOf(m: NllbMoeForConditionalGeneration): { logits: Float32Array; used: number } {
  return tf.tidy(() => {
    const out = m.forward({ inputIds: tf.tensor2d(inputIds, undefined, 'int32'), attentionMask: tf.tensor2d(attention, undefined, 'int32'), decoderInputIds: tf.tensor2d(decoderIds, undefined, 'int32') });
    // (layer, expert) pairs that received tokens: what an offloaded forward must read, and no more.
    let used = 0;
    for (const r of [...out.encoderRouters, ...out.decoderRouters]) for (const tokens of r?.plan?.expertTokens ?? []) if (tokens.length > 0) used++;
    return { logits: out.logits.dataSync() as Float32Array, used };
  });
}

async function greedy(m: NllbMoeForConditionalGeneration): Promise<number[][]> {
  const input = tf.tensor2d(inputIds, undefined, 'int32');
  const mask = tf.tensor2d(attention, undefined, 'int32');
  const session = new NllbMoeSession(m, input, mask);
  try {
    const out = await generate(session, { inputIds: [[2], [2]] }, { maxNewTokens: 8, eosTokenId: null, padTokenId: 1 });
    return out.sequences.map((s) => Array.from(s));
  } finally {
    session.dispose();
    tf.dispose([input, mask]);
  }
}

function denseBytesOf(m: NllbMoeForConditionalGeneration): number {
  return m.namedParameters().reduce((a, p) => a + 4 * (p.variable.shape as number[]).reduce((x, y) => x * y, 1), 0);
}

test('offloaded experts: same logits and greedy tokens as the resident model; the cache stays within the budget', async () => {
  const resident = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  const want = logitsOf(resident);
  const wantTokens = await greedy(resident);
  resident.dispose();
  assert.ok(want.used > 3 * SPARSE_LAYERS, `routing spreads tokens over experts (${want.used} used)`);

  // Dense part + 3 experts: far fewer than the 128 the checkpoint has, so experts are evicted and read again.
  const probe = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { maxMemoryGB: 1 });
  const dense = denseBytesOf(probe);
  assert.is(probe.expertStore!.stats().denseBytes, dense);
  assert.is(probe.expertStore!.stats().totalExperts, SPARSE_LAYERS * NUM_EXPERTS);
  assert.is(probe.expertStore!.stats().expertBytes, EXPERT_BYTES);
  probe.dispose();
  const budget = dense + 3 * EXPERT_BYTES;
  const m = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { maxMemoryGB: budget / 1e9 });
  assert.is(m.model.encoderLayers[1].ffn.sparse!.experts.length, 0, 'no expert variables are allocated');
  const got = logitsOf(m);
  assert.equal(Array.from(got.logits), Array.from(want.logits), 'logits equal the resident model exactly');
  const s = m.expertStore!.stats();
  assert.ok(s.peakResidentBytes <= s.capacityBytes, `peak ${s.peakResidentBytes} <= capacity ${s.capacityBytes}`);
  assert.ok(s.denseBytes + s.peakResidentBytes <= budget);
  assert.is(s.peakResidentBytes, 3 * EXPERT_BYTES);
  const misses = s.layers.reduce((a, l) => a + l.misses, 0);
  const evictions = s.layers.reduce((a, l) => a + l.evictions, 0);
  assert.is(misses, want.used, 'each used expert is read once per forward (one pass over each layer)');
  assert.is(evictions, misses - 3);
  assert.is(s.layers.length, SPARSE_LAYERS);
  assert.match(formatExpertCacheStats(s), /expert cache \(float32\): 0 hits, \d+ misses/);

  const before = tf.memory().numTensors;
  assert.equal(await greedy(m), wantTokens, 'greedy tokens equal the resident model');
  assert.is(tf.memory().numTensors, before, 'generation leaks no tensors (the cache holds the same number of experts)');
  assert.ok(m.expertStore!.stats().peakResidentBytes <= s.capacityBytes);
  m.dispose();
});

test('a budget holding every expert reads each used expert once and then hits', () => {
  const m = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { maxMemoryGB: 1 });
  const first = logitsOf(m);
  const s1 = m.expertStore!.stats();
  assert.is(s1.layers.reduce((a, l) => a + l.misses, 0), first.used, 'only experts that receive tokens are read');
  logitsOf(m);
  const s2 = m.expertStore!.stats();
  assert.is(s2.layers.reduce((a, l) => a + l.misses, 0), first.used, 'the second forward reads nothing');
  assert.is(s2.layers.reduce((a, l) => a + l.hits, 0), first.used);
  assert.is(s2.residentBytes, first.used * EXPERT_BYTES);
  m.dispose();
});

test('int8 offloaded experts equal the resident int8 model', () => {
  const resident = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  applyWeightPrecision(resident, 'int8');
  const want = logitsOf(resident);
  resident.dispose();
  const probe = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { maxMemoryGB: 1 });
  const dense = denseBytesOf(probe);
  probe.dispose();
  // Room for the dense part's native int8 copies and 2 int8 experts.
  const m = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { maxMemoryGB: (2 * dense + 2 * EXPERT_BYTES) / 1e9 });
  const report = applyWeightPrecision(m, 'int8');
  const s0 = m.expertStore!.stats();
  assert.is(s0.precision, 'int8');
  assert.is(s0.denseBytes, float32ParameterBytes(m.namedParameters()) + report.nativeBytes, 'dense part: float32 parameters + native int8 copies');
  if (report.native) assert.is(s0.expertBytes, 2 * 16 * 32 + 4 * 48 + 4 * 48, 'int8 weights + scales + float32 biases');
  const got = logitsOf(m);
  assert.equal(Array.from(got.logits), Array.from(want.logits));
  const s = m.expertStore!.stats();
  assert.ok(s.peakResidentBytes <= s.capacityBytes);
  m.dispose();
});

test('a polyglot-quantize int8 checkpoint: offloaded experts use the stored int8 weights and equal the resident int8 model', () => {
  const out = path.join(dir, 'model-int8');
  quantizeCheckpoint(modelDir, out, { dtype: 'int8', force: false });
  const q = openCheckpoint(out);
  const resident = NllbMoeForConditionalGeneration.fromCheckpoint(q);
  const want = logitsOf(resident);
  resident.dispose();
  const m = NllbMoeForConditionalGeneration.fromCheckpoint(openCheckpoint(out), { maxMemoryGB: 1 });
  assert.is(m.expertStore!.stats().precision, 'int8', 'int8 as stored');
  const got = logitsOf(m);
  assert.equal(Array.from(got.logits), Array.from(want.logits));
  m.dispose();
});

test('a budget below the dense part + one expert is refused with the minimum', () => {
  const probe = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { maxMemoryGB: 1 });
  const dense = denseBytesOf(probe);
  probe.dispose();
  try {
    NllbMoeForConditionalGeneration.fromCheckpoint(ck, { maxMemoryGB: (dense + EXPERT_BYTES / 2) / 1e9 });
    assert.unreachable('accepted a budget that cannot hold one expert');
  } catch (e) {
    assert.instance(e, PolyglotError);
    const msg = (e as Error).message;
    assert.not.match(msg, /\n/);
    const min = Number(/minimum of ([\d.e-]+) GB/.exec(msg)![1]);
    assert.ok(min * 1e9 >= dense + EXPERT_BYTES && min * 1e9 < (dense + EXPERT_BYTES) * 1.01, msg);
    assert.match(msg, /^--max-memory [\d.e-]+ GB is below this model's minimum of [\d.e-]+ GB \(dense part [\d.e-]+ GB \+ one float32 expert [\d.e-]+ GB\)$/);
  }
  // The minimum itself is accepted.
  const m = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { maxMemoryGB: (dense + EXPERT_BYTES) / 1e9 });
  logitsOf(m);
  assert.is(m.expertStore!.stats().peakResidentBytes, EXPERT_BYTES);
  m.dispose();
});

test('offloaded experts refuse training and graph export', () => {
  const m = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { maxMemoryGB: 1 });
  assert.throws(
    () =>
      tf.tidy(() => {
        m.computeLoss({ input_ids: tf.tensor2d(inputIds, undefined, 'int32'), labels: tf.tensor2d(decoderIds, undefined, 'int32') }, { training: true, rng: new Rng(1) });
      }),
    (e: Error) => e instanceof PolyglotError && /offloaded \(--max-memory\), which is for inference/.test(e.message),
  );
  const graphLikeOps: Ops<tf.Tensor> = { ...eagerOps, kind: 'graph' };
  assert.throws(
    () => tf.tidy(() => void m.run(graphLikeOps, tf.tensor2d(inputIds, undefined, 'int32'), undefined, tf.tensor2d(decoderIds, undefined, 'int32'), undefined, { training: false })),
    (e: Error) => e instanceof PolyglotError && /graph export needs every expert resident/.test(e.message),
  );
  m.dispose();
});

for (const fixture of ['nllb-moe-e32-bf16bin', 'nllb-moe-gelunew-f16']) {
  test(`verify ${fixture} (HF reference numbers) with experts offloaded into room for two`, async () => {
    const dir = projectFixturePath(fixture);
    const probe = NllbMoeForConditionalGeneration.fromCheckpoint(openCheckpoint(dir), { maxMemoryGB: 1 });
    const s = probe.expertStore!.stats();
    probe.dispose();
    const results = await verifyFixture(dir, { maxMemoryGB: (s.denseBytes + 2 * s.expertBytes) / 1e9 });
    const failed = results.filter((r) => r.status !== 'pass').map((r) => `${r.case}: ${r.status} ${r.message ?? ''}`);
    assert.equal(failed, []);
    assert.ok(results.some((r) => r.case === 'forward') && results.some((r) => r.case === 'generate_greedy'));
  });
}

test('CLI: --max-memory below the minimum is one line; above it translate reports the cache per layer', () => {
  expectOneLineError(['translate', '--model', fixturePath('nllb-moe-tiny'), '--src-lang', 'eng_Latn', '--tgt-lang', 'fra_Latn', '--max-memory', '0.0003', 'hello'], /^polyglot: --max-memory 0\.0003 GB is below this model's minimum of [\d.]+ GB \(dense part [\d.]+ GB \+ one float32 expert [\d.e-]+ GB\)$/);
  expectOneLineError(['generate', '--model', fixturePath('xglm-tiny'), '--prompt', 'hi', '--max-memory', '0.00001'], /^polyglot: --max-memory 0\.00001 GB is below this model's minimum of [\d.]+ GB \(its weights; it has no experts to offload\)$/);
  expectOneLineError(['translate', '--model', fixturePath('nllb-moe-tiny'), '--src-lang', 'eng_Latn', '--tgt-lang', 'fra_Latn', '--max-memory', '-1', 'hello'], /^polyglot: --max-memory: expected a positive number of GB, found -1$/);
  const args = ['translate', '--model', fixturePath('nllb-moe-tiny'), '--src-lang', 'eng_Latn', '--tgt-lang', 'fra_Latn', '--max-new-tokens', '4', 'hello world', 'a test'];
  const resident = runCli(args);
  const offloaded = runCli([...args, '--max-memory', '0.001']);
  assert.is(offloaded.status, 0, offloaded.stderr);
  assert.is(offloaded.stdout, resident.stdout, 'same translations');
  assert.match(offloaded.stderr, /^expert cache \(float32\): \d+ hits, [1-9]\d* misses; peak [\d.]+ MB of [\d.]+ MB \(budget 1\.0 MB - dense [\d.]+ MB\); all 8 experts would take [\d.]+ MB$/m);
  assert.match(offloaded.stderr, /^ {2}encoder\.layers\.1: \d+ hits, \d+ misses, \d+ evictions$/m);
  assert.match(offloaded.stderr, /^ {2}decoder\.layers\.1: \d+ hits, \d+ misses, \d+ evictions$/m);
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test.run();
