/**
 * Graph export of checkpoints unlike the shared fixtures, checked against their HF reference
 * logits (test/fixtures: numbers from HF's own modeling code) with the stock loader:
 *  - XGLM with max_position_embeddings 16 fed 24 tokens: positions past the table (HF grows it);
 *  - NLLB-MoE with tie_word_embeddings false: logits come from the separate lm_head.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsFile, type HostTensor } from '../convert/safetensors.js';
import { exportGraphModels } from '../export/export-model.js';
import { projectFixturePath } from './helpers.js';
import { loadStockGraphModel } from './export-stock-loader.js';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-export-unseen-'));

interface Case {
  name: string;
  rtol: number;
  atol: number;
  inputs: Record<string, string>;
  expect: Record<string, string>;
}

function fixture(name: string): { dir: string; ref: SafetensorsFile; cases: Map<string, Case> } {
  const dir = projectFixturePath(name);
  const ref = SafetensorsFile.open(path.join(dir, 'reference', 'tensors.safetensors'));
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'reference', 'cases.json'), 'utf8')).cases as Case[];
  return { dir, ref, cases: new Map(cases.map((c) => [c.name, c])) };
}

function int2d(h: HostTensor): tf.Tensor2D {
  return tf.tensor2d(Array.from(h.data as ArrayLike<number | bigint>, Number), h.shape as [number, number], 'int32');
}

/** Max |graph - HF| over positions where `mask` is 1; fails past the case's tolerance. */
function checkLogits(got: tf.Tensor, ref: HostTensor, mask: HostTensor, c: Case): number {
  const g = got.dataSync();
  const r = ref.data as Float32Array;
  const m = Array.from(mask.data as ArrayLike<number | bigint>, Number);
  assert.equal(got.shape, ref.shape);
  const V = ref.shape[2];
  let worst = 0;
  for (let i = 0; i < r.length; i++) {
    if (!m[Math.floor(i / V)]) continue;
    const d = Math.abs(g[i] - r[i]);
    worst = Math.max(worst, d);
    assert.ok(d <= c.atol + c.rtol * Math.abs(r[i]), `element ${i}: graph ${g[i]} vs HF ${r[i]}`);
  }
  return worst;
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test('XGLM graph runs past max_position_embeddings and matches HF (24 tokens, table of 16 + 2)', async () => {
  const f = fixture('xglm-shortpos-binsharded');
  const c = f.cases.get('forward_right_padded')!;
  const ids = f.ref.read(c.inputs.input_ids);
  assert.ok(ids.shape[1] > 18, `the case must run past the table: length ${ids.shape[1]}`);
  await exportGraphModels(f.dir, { out: path.join(out, 'xglm'), quantize: 'none' });
  const model = await loadStockGraphModel(path.join(out, 'xglm', 'decoder_model'));
  const [b, t] = ids.shape;
  const inputIds = int2d(ids);
  const mask = int2d(f.ref.read(c.inputs.attention_mask));
  // no position_ids in the case: HF's default arange(T) for every row
  const positions = tf.tidy(() => tf.tile(tf.range(0, t, 1, 'int32').expandDims(0), [b, 1]));
  const logits = model.execute({ input_ids: inputIds, attention_mask: mask, position_ids: positions }, 'logits') as tf.Tensor;
  const worst = checkLogits(logits, f.ref.read(c.expect.logits), f.ref.read(c.inputs.attention_mask), c);
  assert.ok(worst < c.atol, `max abs error ${worst}`);
  tf.dispose([inputIds, mask, positions, logits]);
  model.dispose();
});

test('NLLB-MoE with an untied lm_head exports logits from lm_head, matching HF', async () => {
  const f = fixture('nllb-moe-untied');
  const c = f.cases.get('forward')!;
  await exportGraphModels(f.dir, { out: path.join(out, 'nllb'), quantize: 'none' });
  const encoder = await loadStockGraphModel(path.join(out, 'nllb', 'encoder_model'));
  const decoder = await loadStockGraphModel(path.join(out, 'nllb', 'decoder_model'));
  const ids = int2d(f.ref.read(c.inputs.input_ids));
  const mask = int2d(f.ref.read(c.inputs.attention_mask));
  const dec = int2d(f.ref.read(c.inputs.decoder_input_ids));
  const decMask = int2d(f.ref.read(c.inputs.decoder_attention_mask));
  const hidden = encoder.execute({ input_ids: ids, attention_mask: mask }, 'last_hidden_state') as tf.Tensor;
  const logits = decoder.execute({ input_ids: dec, decoder_attention_mask: decMask, encoder_hidden_states: hidden, encoder_attention_mask: mask }, 'logits') as tf.Tensor;
  checkLogits(logits, f.ref.read(c.expect.logits), f.ref.read(c.inputs.decoder_attention_mask), c);
  tf.dispose([ids, mask, dec, decMask, hidden, logits]);
  encoder.dispose();
  decoder.dispose();
});

test.run();
