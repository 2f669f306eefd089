/**
 * NLLB-MoE graph export: encoder / decoder / decoder-with-past folders loaded with plain
 * tf.loadGraphModel (loading and execution import only @tensorflow/tfjs) reproduce the HF
 * reference (encoder states and logits, MoE routing in eval semantics inside the graph, also
 * with a capacity that drops tokens), decode step by step with the caches, and per quantize
 * mode report size and max logit error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsFile, type HostTensor } from '../convert/safetensors.js';
import { exportGraphModels } from '../export/export-model.js';
import type { QuantizeMode } from '../export/quantize.js';
import { fixturePath } from './helpers.js';
import { loadStockGraphModel } from './export-stock-loader.js';

const FIXTURE = fixturePath('nllb-moe-tiny');
const ref = SafetensorsFile.open(path.join(FIXTURE, 'reference', 'tensors.safetensors'));
const cases = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'reference', 'cases.json'), 'utf8')).cases as { name: string; rtol: number; atol: number }[];
const tol = (name: string) => cases.find((c) => c.name === name)!;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-nllb-export-'));
const V = 1204;
const D = 64;

function rowsOf(h: HostTensor): number[][] {
  const [b, t] = h.shape;
  const v = Array.from(h.data as ArrayLike<number | bigint>, Number);
  return Array.from({ length: b }, (_, i) => v.slice(i * t, (i + 1) * t));
}

function int2d(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');
}

/** max |got - ref| over real positions (mask) of `rows`, first `len` positions, inner size `inner`; throws past tolerance. */
function compare(got: tf.Tensor, refT: HostTensor | tf.Tensor, mask: number[][], rows: number[], len: number, inner: number, t: { rtol: number; atol: number }, what: string): number {
  const g = got.dataSync();
  const r = refT instanceof tf.Tensor ? refT.dataSync() : (refT.data as Float32Array);
  const T = refT.shape[1]!;
  let worst = 0;
  rows.forEach((row, bi) => {
    for (let p = 0; p < len; p++) {
      if (!mask[row][p]) continue;
      for (let k = 0; k < inner; k++) {
        const a = g[(bi * len + p) * inner + k];
        const e = r[(row * T + p) * inner + k];
        const d = Math.abs(a - e);
        worst = Math.max(worst, d);
        if (!(d <= t.atol + t.rtol * Math.abs(e))) throw new Error(`${what}: row ${row} position ${p} index ${k}: graph ${a} vs reference ${e}`);
      }
    }
  });
  return worst;
}

const exported: Record<string, { dir: string; bytes: number }> = {};
async function exportOf(key: string, src: string, quantize: QuantizeMode): Promise<string> {
  if (!exported[key]) {
    const out = path.join(root, key);
    exported[key] = { dir: out, bytes: (await exportGraphModels(src, { out, quantize })).totalBytes };
  }
  return exported[key].dir;
}

interface Loaded {
  encoder: tf.GraphModel;
  decoder: tf.GraphModel;
  withPast: tf.GraphModel;
}
async function loadAll(dir: string): Promise<Loaded> {
  return {
    encoder: await loadStockGraphModel(path.join(dir, 'encoder_model')),
    decoder: await loadStockGraphModel(path.join(dir, 'decoder_model')),
    withPast: await loadStockGraphModel(path.join(dir, 'decoder_with_past_model')),
  };
}

const src = rowsOf(ref.read('forward/input_ids'));
const srcMask = rowsOf(ref.read('forward/attention_mask'));
const dec = rowsOf(ref.read('forward/decoder_input_ids'));
const decMask = rowsOf(ref.read('forward/decoder_attention_mask'));

/** Encoder + full decoder for `rows`, decoder prefix of `len`: [encoder states, logits]. */
function fullRun(m: Loaded, rows: number[], len: number): [tf.Tensor, tf.Tensor] {
  const ids = int2d(rows.map((r) => src[r]));
  const mask = int2d(rows.map((r) => srcMask[r]));
  const h = m.encoder.execute({ input_ids: ids, attention_mask: mask }, 'last_hidden_state') as tf.Tensor;
  const d = int2d(rows.map((r) => dec[r].slice(0, len)));
  const dm = int2d(rows.map((r) => decMask[r].slice(0, len)));
  const logits = m.decoder.execute({ input_ids: d, decoder_attention_mask: dm, encoder_hidden_states: h, encoder_attention_mask: mask }, 'logits') as tf.Tensor;
  tf.dispose([ids, mask, d, dm]);
  return [h, logits];
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test('export writes encoder, decoder and with-past graphs with the documented signatures', async () => {
  const dir = await exportOf('none', FIXTURE, 'none');
  const sig = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f, 'model.json'), 'utf8')).signature;
  assert.equal(Object.keys(sig('encoder_model').inputs).sort(), ['attention_mask', 'input_ids']);
  assert.equal(Object.keys(sig('encoder_model').outputs), ['last_hidden_state']);
  assert.equal(Object.keys(sig('decoder_model').inputs).sort(), ['decoder_attention_mask', 'encoder_attention_mask', 'encoder_hidden_states', 'input_ids']);
  assert.equal(Object.keys(sig('decoder_model').outputs), ['logits', ...[0, 1].flatMap((i) => ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value'].map((s) => `present.${i}.${s}`))]);
  assert.equal(Object.keys(sig('decoder_with_past_model').outputs), ['logits', ...[0, 1].flatMap((i) => ['decoder.key', 'decoder.value'].map((s) => `present.${i}.${s}`))]);
  assert.ok(Object.keys(sig('decoder_with_past_model').inputs).includes('past_key_values.1.encoder.value'));
  for (const f of ['sentencepiece.bpe.model', 'tokenizer_config.json', 'special_tokens_map.json', 'config.json', 'generation_config.json', 'README.md']) assert.ok(fs.existsSync(path.join(dir, f)), f);
});

test('graphs reproduce HF encoder states and logits with MoE routing inside (batch 3, batch 1, several lengths)', async () => {
  const m = await loadAll(await exportOf('none', FIXTURE, 'none'));
  const t = tol('forward');
  const before = tf.memory().numTensors;
  for (const [rows, len] of [[[0, 1, 2], 10], [[0], 10], [[1], 4], [[2], 1]] as [number[], number][]) {
    const [h, logits] = fullRun(m, rows, len);
    compare(h, ref.read('forward/encoder_last_hidden_state'), srcMask, rows, src[0].length, D, t, `encoder rows [${rows}]`);
    compare(logits, ref.read('forward/logits'), decMask, rows, len, V, t, `logits rows [${rows}] length ${len}`);
    tf.dispose([h, logits]);
  }
  assert.is(tf.memory().numTensors, before, 'no tensors leaked');
});

test('capacity from moe_eval_capacity_token_fraction is applied inside the graph (forward_capacity_drop)', async () => {
  // The case overrides the config: export a copy of the fixture with that config.json.
  const dir = path.join(root, 'capacity-src');
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(FIXTURE)) if (fs.statSync(path.join(FIXTURE, f)).isFile()) fs.copyFileSync(path.join(FIXTURE, f), path.join(dir, f));
  const config = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, moe_eval_capacity_token_fraction: 0.25 }));
  const m = await loadAll(await exportOf('capacity', dir, 'none'));
  const [h, logits] = fullRun(m, [0, 1, 2], 10);
  const t = tol('forward_capacity_drop');
  compare(h, ref.read('forward_capacity_drop/encoder_last_hidden_state'), srcMask, [0, 1, 2], src[0].length, D, t, 'capacity encoder');
  compare(logits, ref.read('forward_capacity_drop/logits'), decMask, [0, 1, 2], 10, V, t, 'capacity logits');
  // and it differs from the uncapped reference: the capacity really dropped tokens
  let differs = 0;
  const a = logits.dataSync();
  const b = ref.read('forward/logits').data as Float32Array;
  for (let i = 0; i < a.length; i++) differs = Math.max(differs, Math.abs(a[i] - b[i]));
  assert.ok(differs > 1e-3, `capacity 0.25 should change logits, max change ${differs}`);
  tf.dispose([h, logits]);
});

test('with-past decoding step by step equals the full decoder graph (batch 3 and 1)', async () => {
  const m = await loadAll(await exportOf('none', FIXTURE, 'none'));
  const before = tf.memory().numTensors;
  for (const rows of [[0, 1, 2], [1]]) {
    const [h, full] = fullRun(m, rows, 10);
    const mask = int2d(rows.map((r) => srcMask[r]));
    const decoderOutputs = Object.keys((m.decoder.modelSignature as { outputs: object }).outputs).filter((n) => n.startsWith('present.'));
    const withPastOutputs = Object.keys((m.withPast.modelSignature as { outputs: object }).outputs).filter((n) => n.startsWith('present.'));
    // decoding as HF generate: no decoder padding (all-ones decoder_attention_mask)
    const first = int2d(rows.map((r) => dec[r].slice(0, 1)));
    const ones1 = tf.ones([rows.length, 1], 'int32');
    const [l0, ...p0] = m.decoder.execute({ input_ids: first, decoder_attention_mask: ones1, encoder_hidden_states: h, encoder_attention_mask: mask }, ['logits', ...decoderOutputs]) as tf.Tensor[];
    ones1.dispose();
    const cache: Record<string, tf.Tensor> = {};
    decoderOutputs.forEach((n, i) => (cache[n.replace('present.', 'past_key_values.')] = p0[i]));
    const steps = [l0];
    for (let t = 1; t < 10; t++) {
      const ids = int2d(rows.map((r) => [dec[r][t]]));
      const ones = tf.ones([rows.length, t + 1], 'int32');
      const out = m.withPast.execute({ input_ids: ids, decoder_attention_mask: ones, encoder_attention_mask: mask, ...cache }, ['logits', ...withPastOutputs]) as tf.Tensor[];
      tf.dispose([ids, ones]);
      steps.push(out[0]);
      withPastOutputs.forEach((n, i) => {
        const k = n.replace('present.', 'past_key_values.');
        cache[k].dispose();
        cache[k] = out[i + 1];
      });
    }
    const stepwise = tf.concat(steps, 1);
    compare(stepwise, full, rows.map((r) => decMask[r]), rows.map((_, i) => i), 10, V, { rtol: 1e-4, atol: 1e-4 }, `stepwise rows [${rows}]`);
    tf.dispose([h, full, mask, first, stepwise, ...steps, ...Object.values(cache)]);
  }
  assert.is(tf.memory().numTensors, before, 'no tensors leaked');
});

test('quantized exports: size and max |logit error| per mode', async () => {
  const report: Record<string, { mb: number; maxAbsError: number }> = {};
  for (const q of ['none', 'float16', 'uint8'] as QuantizeMode[]) {
    const m = await loadAll(await exportOf(q, FIXTURE, q));
    const [h, logits] = fullRun(m, [0, 1, 2], 10);
    report[q] = { mb: exported[q].bytes / 1e6, maxAbsError: compare(logits, ref.read('forward/logits'), decMask, [0, 1, 2], 10, V, { rtol: 0, atol: Infinity }, q) };
    tf.dispose([h, logits]);
  }
  console.log(`nllb-moe-tiny export sizes / max |logit error| vs HF: ${JSON.stringify(report)}`);
  assert.ok(report.none.maxAbsError <= tol('forward').atol);
  assert.ok(report.float16.maxAbsError > report.none.maxAbsError && report.float16.maxAbsError < 5e-2, `float16 ${report.float16.maxAbsError}`);
  assert.ok(report.uint8.maxAbsError > report.float16.maxAbsError && report.uint8.maxAbsError < 3, `uint8 ${report.uint8.maxAbsError}`);
  assert.ok(report.float16.mb < report.none.mb * 0.65 && report.uint8.mb < report.none.mb * 0.45, JSON.stringify(report));
});

test.after(() => fs.rmSync(root, { recursive: true, force: true }));

test.run();
