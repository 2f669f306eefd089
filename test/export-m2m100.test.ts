/**
 * m2m100-tiny (dense NLLB-200 / M2M-100) exported as encoder / decoder / decoder-with-past graph
 * models and run with stock tf.loadGraphModel (only @tensorflow/tfjs imported): encoder states and
 * logits equal HF's reference at real positions (batch 3 and 1, also past the position table),
 * and the with-past graph decoding one token at a time reproduces the fixture's incremental logits.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsFile, type HostTensor } from '../convert/safetensors.js';
import { exportGraphModels } from '../export/export-model.js';
import { fixturePath } from './helpers.js';
import { loadStockGraphModel } from './export-stock-loader.js';

const FIXTURE = fixturePath('m2m100-tiny');
const ref = SafetensorsFile.open(path.join(FIXTURE, 'reference', 'tensors.safetensors'));
const cases = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'reference', 'cases.json'), 'utf8')).cases as { name: string; rtol: number; atol: number }[];
const tol = (name: string) => cases.find((c) => c.name === name)!;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-m2m100-export-'));
const V = 1204;
const D = 64;
const LAYERS = 2;

function rowsOf(h: HostTensor): number[][] {
  const [b, t] = h.shape;
  const v = Array.from(h.data as ArrayLike<number | bigint>, Number);
  return Array.from({ length: b }, (_, i) => v.slice(i * t, (i + 1) * t));
}

const int2d = (rows: number[][]): tf.Tensor2D => tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');

/** Throws at the first value outside `atol + rtol * |ref|` at a real position; returns the max abs error. */
function compare(got: tf.Tensor, refT: HostTensor, mask: number[][], rows: number[], len: number, inner: number, t: { rtol: number; atol: number }, what: string): number {
  const g = got.dataSync();
  const r = refT.data as Float32Array;
  const T = refT.shape[1];
  let worst = 0;
  rows.forEach((row, bi) => {
    for (let p = 0; p < len; p++) {
      if (!mask[row][p]) continue;
      for (let k = 0; k < inner; k++) {
        const a = g[(bi * len + p) * inner + k];
        const e = r[(row * T + p) * inner + k];
        worst = Math.max(worst, Math.abs(a - e));
        if (!(Math.abs(a - e) <= t.atol + t.rtol * Math.abs(e))) throw new Error(`${what}: row ${row} position ${p} index ${k}: graph ${a} vs HF ${e}`);
      }
    }
  });
  return worst;
}

interface Graphs {
  encoder: tf.GraphModel;
  decoder: tf.GraphModel;
  withPast: tf.GraphModel;
}
let graphs: Graphs;

test.before(async () => {
  await tf.setBackend('cpu');
  const out = path.join(root, 'graph');
  const r = await exportGraphModels(FIXTURE, { out });
  assert.equal(r.graphs.map((g) => g.folder), ['encoder_model', 'decoder_model', 'decoder_with_past_model']);
  graphs = {
    encoder: await loadStockGraphModel(path.join(out, 'encoder_model')),
    decoder: await loadStockGraphModel(path.join(out, 'decoder_model')),
    withPast: await loadStockGraphModel(path.join(out, 'decoder_with_past_model')),
  };
});

for (const c of ['forward', 'forward_beyond_max_positions']) {
  test(`${c}: stock graphs reproduce HF encoder states and logits, whole batch (3 / 2 rows) and batch 1`, () => {
    const src = rowsOf(ref.read(`${c}/input_ids`));
    const srcMask = rowsOf(ref.read(`${c}/attention_mask`));
    const dec = rowsOf(ref.read(`${c}/decoder_input_ids`));
    const decMask = rowsOf(ref.read(`${c}/decoder_attention_mask`));
    const before = tf.memory().numTensors;
    for (const rows of [src.map((_, i) => i), [1]]) {
      const ids = int2d(rows.map((r) => src[r]));
      const mask = int2d(rows.map((r) => srcMask[r]));
      const h = graphs.encoder.execute({ input_ids: ids, attention_mask: mask }, 'last_hidden_state') as tf.Tensor;
      const d = int2d(rows.map((r) => dec[r]));
      const dm = int2d(rows.map((r) => decMask[r]));
      const logits = graphs.decoder.execute({ input_ids: d, decoder_attention_mask: dm, encoder_hidden_states: h, encoder_attention_mask: mask }, 'logits') as tf.Tensor;
      compare(h, ref.read(`${c}/encoder_last_hidden_state`), srcMask, rows, src[0].length, D, tol(c), `${c} encoder rows [${rows}]`);
      compare(logits, ref.read(`${c}/logits`), decMask, rows, dec[0].length, V, tol(c), `${c} logits rows [${rows}]`);
      tf.dispose([ids, mask, h, d, dm, logits]);
    }
    assert.is(tf.memory().numTensors, before, 'no tensors leaked');
  });
}

test('incremental: decoder_model on the prompt, then decoder_with_past_model one token at a time, equal HF (batch 2 and 1)', () => {
  const c = 'incremental';
  const prompt = 3;
  const src = rowsOf(ref.read(`${c}/input_ids`));
  const srcMask = rowsOf(ref.read(`${c}/attention_mask`));
  const dec = rowsOf(ref.read(`${c}/decoder_input_ids`));
  const total = dec[0].length;
  const before = tf.memory().numTensors;
  const present = (kind: 'decoder' | 'with_past') =>
    Array.from({ length: LAYERS }, (_, i) => (kind === 'decoder' ? ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value'] : ['decoder.key', 'decoder.value']).map((s) => `present.${i}.${s}`)).flat();
  for (const rows of [[0, 1], [1]]) {
    const ids = int2d(rows.map((r) => src[r]));
    const mask = int2d(rows.map((r) => srcMask[r]));
    const h = graphs.encoder.execute({ input_ids: ids, attention_mask: mask }, 'last_hidden_state') as tf.Tensor;
    const first = int2d(rows.map((r) => dec[r].slice(0, prompt)));
    const ones = tf.ones([rows.length, prompt], 'int32');
    const [l0, ...p0] = graphs.decoder.execute({ input_ids: first, decoder_attention_mask: ones, encoder_hidden_states: h, encoder_attention_mask: mask }, ['logits', ...present('decoder')]) as tf.Tensor[];
    const cache: Record<string, tf.Tensor> = {};
    present('decoder').forEach((n, i) => (cache[n.replace('present.', 'past_key_values.')] = p0[i]));
    const steps = [l0];
    for (let t = prompt; t < total; t++) {
      const step = int2d(rows.map((r) => [dec[r][t]]));
      const all = tf.ones([rows.length, t + 1], 'int32');
      const [logits, ...out] = graphs.withPast.execute({ input_ids: step, decoder_attention_mask: all, encoder_attention_mask: mask, ...cache }, ['logits', ...present('with_past')]) as tf.Tensor[];
      tf.dispose([step, all]);
      steps.push(logits);
      present('with_past').forEach((n, i) => {
        const k = n.replace('present.', 'past_key_values.');
        cache[k].dispose();
        cache[k] = out[i];
      });
    }
    const stepwise = tf.concat(steps, 1);
    // every decoder token of the case is real (it has no decoder mask)
    const allReal = src.map(() => new Array<number>(total).fill(1));
    compare(stepwise, ref.read(`${c}/logits`), allReal, rows, total, V, tol(c), `incremental rows [${rows}]`);
    tf.dispose([ids, mask, h, first, ones, stepwise, ...steps, ...Object.values(cache)]);
  }
  assert.is(tf.memory().numTensors, before, 'no tensors leaked');
});

test.after(() => fs.rmSync(root, { recursive: true, force: true }));

test.run();
