/**
 * `export --weights int8` (docs/QUANTIZATION.md "Export"): every linear weight is stored as
 * one exact byte per value (uint8 with min -128, scale 1 in the weights manifest, which the
 * stock loader decodes back to the integers) plus float32 scales, and the graph computes
 * (x · q) * scale. Loaded with stock tf.loadGraphModel, its logits match the eager int8
 * model's (int8 linears; the tied output projection in the graph stays the float32 table).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { fixturePath, useBackend } from './helpers.js';
import { loadStockGraphModel } from './export-stock-loader.js';
import { exportGraphModels } from '../export/export-model.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';

await useBackend('wasm');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-export-int8-'));

interface ManifestEntry {
  name: string;
  dtype: string;
  shape: number[];
  quantization?: { dtype: string; min?: number; scale?: number };
}

function manifestEntries(dir: string): ManifestEntry[] {
  const files = [path.join(dir, 'decoder_model', 'model.json')];
  return files.flatMap((f) => (JSON.parse(fs.readFileSync(f, 'utf8')) as { weightsManifest: { weights: ManifestEntry[] }[] }).weightsManifest.flatMap((g) => g.weights));
}

test('xglm-tiny exported with --weights int8: exact int8 bytes + scales, stock loader, logits of the eager int8 linears', async () => {
  const f32 = path.join(root, 'f32');
  const q8 = path.join(root, 'q8');
  const a = await exportGraphModels(fixturePath('xglm-tiny'), { out: f32 });
  const b = await exportGraphModels(fixturePath('xglm-tiny'), { out: q8, weights: 'int8' });
  const entries = manifestEntries(q8);
  const fc1 = entries.find((e) => e.name === 'model.layers.0.fc1.weight');
  assert.equal(fc1?.quantization, { dtype: 'uint8', min: -128, scale: 1 }, 'int8 weight stored as exact bytes');
  assert.equal(fc1?.shape, [64, 128]);
  const scale = entries.find((e) => e.name === 'model.layers.0.fc1.weight_scale');
  assert.equal([scale?.dtype, scale?.shape, scale?.quantization], ['float32', [128], undefined], 'scales stay float32');
  // 2 layers x (4 x 64x64 + 2 x 64x128) linear weights: 3 bytes saved on each (less the scales and the larger graph JSON).
  const linear = 2 * (4 * 64 * 64 + 2 * 64 * 128);
  assert.ok(a.totalBytes - b.totalBytes >= 2.5 * linear, `int8 export is smaller: ${a.totalBytes} -> ${b.totalBytes}`);

  const eager = XGLMForCausalLM.fromCheckpoint(openCheckpoint(fixturePath('xglm-tiny')), { weights: 'int8' });
  const ids = [
    [2, 10, 500, 37, 4, 900],
    [2, 77, 8, 1000, 5, 6],
  ];
  const graph = await loadStockGraphModel(path.join(q8, 'decoder_model'));
  const feed = {
    input_ids: tf.tensor2d(ids, [2, 6], 'int32'),
    attention_mask: tf.ones([2, 6], 'int32') as tf.Tensor2D,
    position_ids: tf.tensor2d(ids.map((r) => r.map((_, i) => i)), [2, 6], 'int32'),
  };
  const got = graph.execute(feed, 'logits') as tf.Tensor;
  const out = eager.forward({ inputIds: feed.input_ids as tf.Tensor2D });
  const table = eager.namedParameters().find((p) => p.name === 'model.embed_tokens.weight')!.variable.read();
  const want = tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(out.lastHiddenState, [-1, 64]), table, false, true), [2, 6, 1008]));
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]);
  assert.ok(diff <= 1e-4, `graph vs eager int8 linears: max abs ${diff}`);
  tf.dispose([got, want, out.logits, out.lastHiddenState, ...out.presentKeyValues.flatMap((kv) => [kv.key, kv.value]), ...Object.values(feed)]);
  graph.dispose();
  eager.dispose();
});

test.after(() => fs.rmSync(root, { recursive: true, force: true }));

test.run();
