/**
 * `polyglot quantize` (models/quantize-checkpoint.ts, docs/QUANTIZATION.md): the written
 * layout (I8 [out, in] + F32 [out] scales, quantization_config), reloading straight into
 * int8 with logits bit-equal to `--weights int8` on the float checkpoint, 16-bit output, and
 * one-line errors for malformed int8 checkpoints.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { fixturePath, throwsExactly, useBackend } from './helpers.js';
import { runCli } from './cli-run.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { writeSafetensors, type TensorToWrite } from '../convert/safetensors-writer.js';
import type { SafetensorsDType } from '../convert/dtypes.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { quantizeCheckpoint } from '../models/quantize-checkpoint.js';
import { precisionReportOf } from '../layers/weight-precision.js';

await useBackend('wasm');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-quantize-'));
const xq = path.join(root, 'xglm-q8');
const nq = path.join(root, 'nllb-q8');

function ids(rng: Rng, rows: number, cols: number, vocab: number): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: rows * cols }, () => 3 + Math.floor(rng.uniform() * (vocab - 3))), [rows, cols], 'int32');
}

function header(dir: string): Map<string, { dtype: SafetensorsDType; shape: number[] }> {
  const f = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  return new Map(f.names().map((n) => [n, f.info(n)]));
}

test('xglm-tiny: int8 layout, config, size', () => {
  const r = quantizeCheckpoint(fixturePath('xglm-tiny'), xq, { dtype: 'int8' });
  assert.is(r.int8Tensors, 2 * 6, '2 layers x (q, k, v, out, fc1, fc2)');
  const h = header(xq);
  assert.equal(h.get('model.layers.0.self_attn.q_proj.weight'), { ...h.get('model.layers.0.self_attn.q_proj.weight')!, dtype: 'I8', shape: [64, 64] });
  assert.equal(h.get('model.layers.1.fc1.weight')!.shape, [128, 64], 'HF layout [out, in]');
  assert.equal([h.get('model.layers.1.fc1.weight_scale')!.dtype, h.get('model.layers.1.fc1.weight_scale')!.shape], ['F32', [128]]);
  assert.is(h.get('model.embed_tokens.weight')!.dtype, 'F32', 'the embedding (lookup + tied projection) stays float');
  assert.is(h.get('model.layers.0.self_attn.q_proj.bias')!.dtype, 'F32');
  const config = JSON.parse(fs.readFileSync(path.join(xq, 'config.json'), 'utf8')) as { quantization_config?: { quant_method: string; bits: number } };
  assert.is(config.quantization_config?.quant_method, 'polyglot_int8');
  assert.is(config.quantization_config?.bits, 8);
  assert.ok(fs.existsSync(path.join(xq, 'sentencepiece.bpe.model')), 'tokenizer copied');
  assert.ok(fs.statSync(path.join(xq, 'model.safetensors')).size < fs.statSync(fixturePath('xglm-tiny', 'model.safetensors')).size);
});

test('xglm-tiny: the quantized checkpoint loads as int8 with the logits of --weights int8 (bit-exact)', () => {
  const fromFloat = XGLMForCausalLM.fromCheckpoint(openCheckpoint(fixturePath('xglm-tiny')), { weights: 'int8' });
  const fromQ8 = XGLMForCausalLM.fromCheckpoint(openCheckpoint(xq));
  assert.is(precisionReportOf(fromQ8).precision, 'int8', 'as stored: int8');
  assert.is(precisionReportOf(fromQ8).tensors, precisionReportOf(fromFloat).tensors);
  assert.equal(fromQ8.namedParameters().map((p) => p.name), fromFloat.namedParameters().map((p) => p.name));
  const input = ids(new Rng(4), 2, 12, fromQ8.config.vocabSize);
  const [a, b] = tf.tidy(() => [fromFloat.forward({ inputIds: input }).logits, fromQ8.forward({ inputIds: input }).logits]);
  assert.equal(b.dataSync(), a.dataSync());
  // --weights float32 on an int8 checkpoint: the dequantised weights as float32 parameters.
  const asFloat = XGLMForCausalLM.fromCheckpoint(openCheckpoint(xq), { weights: 'float32' });
  const fc1 = asFloat.namedParameters().find((p) => p.name === 'model.layers.0.fc1.weight')!;
  const file = SafetensorsFile.open(path.join(xq, 'model.safetensors'));
  const q = file.read('model.layers.0.fc1.weight').data;
  const s = file.read('model.layers.0.fc1.weight_scale').data as Float32Array;
  const w = fc1.variable.read().dataSync(); // [in 64, out 128]
  let worst = 0;
  for (let j = 0; j < 128; j++) for (let i = 0; i < 64; i++) worst = Math.max(worst, Math.abs(w[i * 128 + j] - Math.fround(Number(q[j * 64 + i]) * s[j])));
  assert.is(worst, 0, 'float32 parameter = q * scale exactly');
  tf.dispose([a, b, input]);
  for (const m of [fromFloat, fromQ8, asFloat]) m.dispose();
});

test('nllb-moe-tiny: quantized (experts int8, routers float) and reloaded: logits of --weights int8 (bit-exact)', () => {
  const r = quantizeCheckpoint(fixturePath('nllb-moe-tiny'), nq, { dtype: 'int8' });
  assert.ok(r.int8Tensors > 0);
  const h = header(nq);
  const routers = [...h.keys()].filter((n) => n.includes('.router.classifier.weight'));
  assert.ok(routers.length > 0 && routers.every((n) => h.get(n)!.dtype === 'F32'), 'routers stay float');
  assert.ok([...h.keys()].some((n) => /experts\.expert_\d+\.fc1\.weight$/.test(n) && h.get(n)!.dtype === 'I8'), 'experts int8');
  const fromFloat = NllbMoeForConditionalGeneration.fromCheckpoint(openCheckpoint(fixturePath('nllb-moe-tiny')), { weights: 'int8' });
  const fromQ8 = NllbMoeForConditionalGeneration.fromCheckpoint(openCheckpoint(nq));
  const rng = new Rng(5);
  const src = ids(rng, 2, 10, 1204);
  const tgt = ids(rng, 2, 9, 1204);
  const [a, b] = tf.tidy(() => [fromFloat.forward({ inputIds: src, decoderInputIds: tgt }).logits, fromQ8.forward({ inputIds: src, decoderInputIds: tgt }).logits]);
  assert.equal(b.dataSync(), a.dataSync());
  tf.dispose([a, b, src, tgt]);
  fromFloat.dispose();
  fromQ8.dispose();
});

test('--dtype bfloat16 keeps every float weight as BF16', () => {
  const out = path.join(root, 'xglm-bf16');
  quantizeCheckpoint(fixturePath('xglm-tiny'), out, { dtype: 'bfloat16' });
  const h = header(out);
  assert.ok([...h.values()].every((i) => i.dtype === 'BF16'));
  throwsExactly(() => quantizeCheckpoint(fixturePath('xglm-tiny'), out, { dtype: 'bfloat16' }), /already exists \(pass --force/);
});

/** A copy of the quantized xglm with its tensors edited. */
function broken(name: string, edit: (tensors: Map<string, TensorToWrite>) => void): string {
  const dir = path.join(root, name);
  fs.cpSync(xq, dir, { recursive: true });
  const f = SafetensorsFile.open(path.join(xq, 'model.safetensors'));
  const tensors = new Map<string, TensorToWrite>(
    f.names().map((n) => {
      const i = f.info(n);
      const t = f.read(n);
      return [n, { name: n, dtype: i.dtype, shape: i.shape, data: t.data as Float32Array | Int32Array }];
    }),
  );
  edit(tensors);
  writeSafetensors(path.join(dir, 'model.safetensors'), [...tensors.values()]);
  return dir;
}

test('malformed int8 checkpoints: one-line errors naming the tensor', () => {
  const scale = 'model.layers.0.fc1.weight_scale';
  const noScale = broken('no-scale', (t) => t.delete(scale));
  throwsExactly(() => XGLMForCausalLM.fromCheckpoint(openCheckpoint(noScale)), /tensor "model\.layers\.0\.fc1\.weight": int8 weight without its scale: expected a tensor "model\.layers\.0\.fc1\.weight_scale" F32 \[128\], found none$/);
  const shortScale = broken('short-scale', (t) => t.set(scale, { name: scale, dtype: 'F32', shape: [64], data: new Float32Array(64).fill(0.01) }));
  throwsExactly(() => XGLMForCausalLM.fromCheckpoint(openCheckpoint(shortScale)), /tensor "model\.layers\.0\.fc1\.weight_scale": expected F32 \[128\] \(one scale per output channel of "model\.layers\.0\.fc1\.weight"\), found F32 \[64\]$/);
  const nanScale = broken('nan-scale', (t) => t.set(scale, { name: scale, dtype: 'F32', shape: [128], data: new Float32Array(128).fill(NaN) }));
  throwsExactly(() => XGLMForCausalLM.fromCheckpoint(openCheckpoint(nanScale)), /tensor "model\.layers\.0\.fc1\.weight_scale": expected finite non-negative scales, found NaN at channel 0$/);
  const emb = 'model.embed_tokens.weight';
  const int8Embedding = broken('int8-embedding', (t) => {
    t.set(emb, { name: emb, dtype: 'I8', shape: [1008, 64], data: new Int32Array(1008 * 64).fill(3) });
    t.set(`${emb}_scale`, { name: `${emb}_scale`, dtype: 'F32', shape: [1008], data: new Float32Array(1008).fill(0.01) });
  });
  throwsExactly(() => XGLMForCausalLM.fromCheckpoint(openCheckpoint(int8Embedding)), /tensor "model\.embed_tokens\.weight": int8 weights are read for linear layers only, found one for the parameter model\.embed_tokens\.weight \[1008, 64\]$/);
  const int8Norm = broken('int8-norm', (t) => t.set('model.layer_norm.weight', { name: 'model.layer_norm.weight', dtype: 'I8', shape: [64], data: new Int32Array(64).fill(1) }));
  throwsExactly(() => XGLMForCausalLM.fromCheckpoint(openCheckpoint(int8Norm)), /tensor "model\.layer_norm\.weight": expected an int8 linear weight \[out, in\], found I8 \[64\]$/);
});

test('CLI: quantize, then generate from the int8 directory = generate --weights int8 from the float one', () => {
  const out = path.join(root, 'cli-q8');
  const q = runCli(['quantize', fixturePath('xglm-tiny'), '--out', out], 120_000);
  assert.is(q.status, 0, q.stderr);
  assert.match(q.stdout, /wrote .*: 12 linear weights as int8/);
  const gen = (model: string, extra: string[]) => runCli(['generate', '--model', model, '--prompt', 'Hello world', '--max-new-tokens', '6', '--json', ...extra], 120_000);
  const a = gen(fixturePath('xglm-tiny'), ['--weights', 'int8']);
  const b = gen(out, []);
  assert.is(a.status, 0, a.stderr);
  assert.is(b.status, 0, b.stderr);
  assert.is(b.stdout, a.stdout);
  assert.match(b.stderr, /weights: int8 \(13 tensors/);
});

test.after(() => fs.rmSync(root, { recursive: true, force: true }));

test.run();
