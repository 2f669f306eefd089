/**
 * XGLM graph export: the exported folders, loaded with plain tf.loadGraphModel (the loading and
 * execution side imports only @tensorflow/tfjs), reproduce the fixture's HF reference logits:
 * full graph for every forward case (batch 3 and 1, several lengths), with-past graph stepwise
 * (= the incremental case), and per quantize mode with its size and max error.
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

const FIXTURE = fixturePath('xglm-tiny');
const ref = SafetensorsFile.open(path.join(FIXTURE, 'reference', 'tensors.safetensors'));
const cases = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'reference', 'cases.json'), 'utf8')).cases as { name: string; kind: string; rtol: number; atol: number; inputs: Record<string, string> }[];
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-xglm-export-'));
const V = 1008;

function ints(h: HostTensor): number[] {
  return Array.from(h.data as ArrayLike<number | bigint>, Number);
}

function int2d(rows: number[][]): tf.Tensor2D {
  return tf.tensor2d(rows, [rows.length, rows[0].length], 'int32');
}

function rowsOf(h: HostTensor): number[][] {
  const [b, t] = h.shape;
  const v = ints(h);
  return Array.from({ length: b }, (_, i) => v.slice(i * t, (i + 1) * t));
}

/** max |got - ref| over real positions of rows `rows` / first `len` positions; throws past tolerance. */
function compareLogits(got: tf.Tensor, refLogits: HostTensor, mask: number[][], rows: number[], len: number, tol: { rtol: number; atol: number }, what: string): number {
  const g = got.dataSync();
  const r = refLogits.data as Float32Array;
  const T = refLogits.shape[1];
  let worst = 0;
  rows.forEach((row, bi) => {
    for (let t = 0; t < len; t++) {
      if (!mask[row][t]) continue;
      for (let v = 0; v < V; v++) {
        const a = g[(bi * len + t) * V + v];
        const e = r[(row * T + t) * V + v];
        const d = Math.abs(a - e);
        worst = Math.max(worst, d);
        if (d > tol.atol + tol.rtol * Math.abs(e)) throw new Error(`${what}: row ${row} position ${t} token ${v}: graph ${a} vs HF ${e}`);
      }
    }
  });
  return worst;
}

const exports: Record<string, { dir: string; bytes: number }> = {};

async function exported(q: QuantizeMode): Promise<string> {
  if (!exports[q]) {
    const out = path.join(root, q);
    const r = await exportGraphModels(FIXTURE, { out, quantize: q });
    exports[q] = { dir: out, bytes: r.totalBytes };
  }
  return exports[q].dir;
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test('export writes both graphs, tokenizer files, configs and a README', async () => {
  const dir = await exported('none');
  for (const f of ['decoder_model/model.json', 'decoder_with_past_model/model.json', 'sentencepiece.bpe.model', 'tokenizer_config.json', 'config.json', 'generation_config.json', 'README.md']) {
    assert.ok(fs.existsSync(path.join(dir, f)), `missing ${f}`);
  }
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'decoder_with_past_model', 'model.json'), 'utf8'));
  assert.equal(Object.keys(json.signature.inputs).sort(), ['attention_mask', 'input_ids', 'past_key_values.0.key', 'past_key_values.0.value', 'past_key_values.1.key', 'past_key_values.1.value', 'position_ids']);
  assert.equal(json.signature.inputs['past_key_values.0.key'].tensorShape.dim.map((d: { size: string }) => d.size), ['-1', '4', '-1', '16']);
  assert.not.ok(json.modelTopology.node.some((n: { op: string }) => n.op === 'BatchMatMulV3'));
  // the tied lm_head is the embedding Const itself: one weight, stored once
  const names = json.weightsManifest[0].weights.map((w: { name: string }) => w.name) as string[];
  assert.is(names.filter((n) => n === 'model.embed_tokens.weight').length, 1);
  assert.not.ok(names.some((n) => n.includes('lm_head')));
  assert.is(new Set(names).size, names.length);
  const readme = fs.readFileSync(path.join(dir, 'README.md'), 'utf8');
  assert.match(readme, /`past_key_values\.1\.value` \| float32 \| \[B, 4, P, 16\]/);
  // names the source folder, not the exporting machine's absolute path
  assert.ok(!readme.includes(path.resolve(FIXTURE)), 'absolute source path in README');
  assert.match(readme, /Exported by tfjs-polyglot from `xglm-tiny`/);
});

test('full graph reproduces every HF forward case (batch 3, batch 1, several lengths)', async () => {
  const model = await loadStockGraphModel(path.join(await exported('none'), 'decoder_model'));
  const before = tf.memory().numTensors;
  for (const c of cases.filter((x) => x.kind === 'forward')) {
    const ids = rowsOf(ref.read(`${c.name}/input_ids`));
    const mask = rowsOf(ref.read(`${c.name}/attention_mask`));
    const pos = c.inputs.position_ids ? rowsOf(ref.read(c.inputs.position_ids)) : ids.map((r) => r.map((_, i) => i));
    const logits = ref.read(`${c.name}/logits`);
    const T = ids[0].length;
    // whole batch, then row 0 alone at several prefix lengths (causal: a prefix's logits are the full run's)
    const runs: [number[], number][] = [[ids.map((_, i) => i), T], [[0], T], [[0], Math.max(1, T - 3)], [[ids.length - 1], 2]];
    for (const [rows, len] of runs) {
      const feed = {
        input_ids: int2d(rows.map((r) => ids[r].slice(0, len))),
        attention_mask: int2d(rows.map((r) => mask[r].slice(0, len))),
        position_ids: int2d(rows.map((r) => pos[r].slice(0, len))),
      };
      const out = model.execute(feed, 'logits') as tf.Tensor;
      assert.equal(out.shape, [rows.length, len, V]);
      compareLogits(out, logits, mask, rows, len, c, `${c.name} rows [${rows}] length ${len}`);
      tf.dispose([out, ...Object.values(feed)]);
    }
  }
  assert.is(tf.memory().numTensors, before, 'no tensors leaked');
  model.dispose();
});

/** Prompt through decoder_model, then one token at a time through decoder_with_past_model; returns [B, T, V] logits. */
function stepwise(full: tf.GraphModel, withPast: tf.GraphModel, ids: number[][], promptLength: number): tf.Tensor {
  const presentNames = Object.keys((full.modelSignature as { outputs: Record<string, unknown> }).outputs).filter((n) => n.startsWith('present.'));
  const B = ids.length;
  const first = {
    input_ids: int2d(ids.map((r) => r.slice(0, promptLength))),
    attention_mask: tf.ones([B, promptLength], 'int32'),
    position_ids: int2d(ids.map(() => Array.from({ length: promptLength }, (_, i) => i))),
  };
  const [l0, ...p0] = full.execute(first, ['logits', ...presentNames]) as tf.Tensor[];
  tf.dispose(Object.values(first));
  const pieces = [l0];
  let cache = p0;
  for (let t = promptLength; t < ids[0].length; t++) {
    const feed: tf.NamedTensorMap = {
      input_ids: int2d(ids.map((r) => [r[t]])),
      attention_mask: tf.ones([B, t + 1], 'int32'),
      position_ids: int2d(ids.map(() => [t])),
    };
    presentNames.forEach((n, i) => (feed[n.replace('present.', 'past_key_values.')] = cache[i]));
    const [l, ...p] = withPast.execute(feed, ['logits', ...presentNames]) as tf.Tensor[];
    tf.dispose(Object.values(feed));
    pieces.push(l);
    cache = p;
  }
  const all = tf.concat(pieces, 1);
  tf.dispose([...pieces, ...cache]);
  return all;
}

test('with-past graph decoding step by step equals the HF incremental logits (batch 2 and 1)', async () => {
  const dir = await exported('none');
  const full = await loadStockGraphModel(path.join(dir, 'decoder_model'));
  const withPast = await loadStockGraphModel(path.join(dir, 'decoder_with_past_model'));
  const c = cases.find((x) => x.name === 'incremental_kv_cache')!;
  const ids = rowsOf(ref.read('incremental_kv_cache/input_ids'));
  const mask = rowsOf(ref.read('incremental_kv_cache/attention_mask'));
  const logits = ref.read('incremental_kv_cache/logits');
  const before = tf.memory().numTensors;
  for (const [rows, prompt] of [[[0, 1], 4], [[1], 1], [[0], 7]] as [number[], number][]) {
    const got = stepwise(full, withPast, rows.map((r) => ids[r]), prompt);
    compareLogits(got, logits, mask, rows, ids[0].length, c, `stepwise rows [${rows}] prompt ${prompt}`);
    got.dispose();
  }
  assert.is(tf.memory().numTensors, before, 'no tensors leaked');
  full.dispose();
  withPast.dispose();
});

test('quantized exports: size and max |logit error| per mode', async () => {
  const c = cases.find((x) => x.name === 'forward_right_padded')!;
  const ids = rowsOf(ref.read(`${c.name}/input_ids`));
  const mask = rowsOf(ref.read(`${c.name}/attention_mask`));
  const logits = ref.read(`${c.name}/logits`);
  const T = ids[0].length;
  const report: Record<string, { mb: number; maxAbsError: number }> = {};
  for (const q of ['none', 'float16', 'uint8'] as QuantizeMode[]) {
    const dir = await exported(q);
    const model = await loadStockGraphModel(path.join(dir, 'decoder_model'));
    const feed = { input_ids: int2d(ids), attention_mask: int2d(mask), position_ids: int2d(ids.map((r) => r.map((_, i) => i))) };
    const out = model.execute(feed, 'logits') as tf.Tensor;
    report[q] = { mb: exports[q].bytes / 1e6, maxAbsError: compareLogits(out, logits, mask, [0, 1, 2], T, { rtol: 0, atol: Infinity }, q) };
    tf.dispose([out, ...Object.values(feed)]);
    model.dispose();
  }
  console.log(`xglm-tiny export sizes / max |logit error| vs HF: ${JSON.stringify(report)}`);
  assert.ok(report.none.maxAbsError <= c.atol, `none ${report.none.maxAbsError}`);
  assert.ok(report.float16.maxAbsError > report.none.maxAbsError && report.float16.maxAbsError < 2e-2, `float16 ${report.float16.maxAbsError}`);
  assert.ok(report.uint8.maxAbsError > report.float16.maxAbsError && report.uint8.maxAbsError < 0.5, `uint8 ${report.uint8.maxAbsError}`);
  assert.ok(report.float16.mb < report.none.mb * 0.62 && report.uint8.mb < report.none.mb * 0.45, JSON.stringify(report));
});

test('clear errors: existing output folder, non-exportable model', async () => {
  const dir = await exported('none');
  try {
    await exportGraphModels(FIXTURE, { out: dir });
    assert.unreachable('expected a refusal');
  } catch (e) {
    assert.match((e as Error).message, /output folder already exists \(use --force to replace it\)/);
  }
  const bert = path.join(root, 'bert');
  fs.mkdirSync(bert);
  fs.writeFileSync(path.join(bert, 'config.json'), JSON.stringify({ model_type: 'bert' }));
  fs.copyFileSync(path.join(FIXTURE, 'model.safetensors'), path.join(bert, 'model.safetensors'));
  try {
    await exportGraphModels(bert, { out: path.join(root, 'bert-out') });
    assert.unreachable('expected an error');
  } catch (e) {
    assert.match((e as Error).message, /model_type": expected one of xglm, nllb-moe, m2m_100 to export as a graph model, found "bert"/);
  }
  assert.not.ok(fs.existsSync(path.join(root, 'bert-out')));
  // --force replaces a complete export
  const r = await exportGraphModels(FIXTURE, { out: dir, force: true, quantize: 'float16' });
  assert.is(JSON.parse(fs.readFileSync(path.join(dir, 'decoder_model', 'model.json'), 'utf8')).weightsManifest[0].weights.find((w: { name: string }) => w.name === 'model.embed_tokens.weight').quantization.dtype, 'float16');
  assert.is(r.graphs.length, 2);
});

test.after(() => fs.rmSync(root, { recursive: true, force: true }));

test.run();
