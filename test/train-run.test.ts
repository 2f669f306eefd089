import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { useBackend } from './helpers.js';
import { runTraining, type TrainRunOptions } from '../train/run-training.js';
import { initModelDir } from '../train/init-model.js';
import { syntheticSplit } from '../train/demo/synthetic-task.js';
import { loadModel } from '../train/load-model.js';
import { exportCheckpoint } from '../train/export-checkpoint.js';
import { SafetensorsFile } from '../convert/safetensors.js';

const base: Omit<TrainRunOptions, 'modelDir' | 'data' | 'outDir'> = {
  maxSteps: 12, lr: 3e-3, batchSize: 8, gradAccum: 1, warmupSteps: 2, schedule: 'linear', weightDecay: 0.01, maxGradNorm: 1,
  labelSmoothing: 0, evalEvery: 6, saveEvery: 6, keep: 1, seed: 5, maxLength: 32, devTranslations: 4,
};

function setup(arch: 'xglm' | 'nllb-moe') {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `run-${arch}-`));
  const { train, dev } = syntheticSplit(300, 20, 9);
  const texts = train.flatMap((p) => [p.src, p.tgt]);
  const model = path.join(tmp, 'model');
  const config = arch === 'xglm'
    ? { d_model: 32, num_layers: 1, attention_heads: 2, ffn_dim: 64, max_position_embeddings: 64 }
    : { d_model: 32, encoder_layers: 2, decoder_layers: 2, encoder_attention_heads: 2, decoder_attention_heads: 2, encoder_ffn_dim: 64, decoder_ffn_dim: 64, num_experts: 4, encoder_sparse_step: 2, decoder_sparse_step: 2, expert_capacity: null, max_position_embeddings: 64 };
  initModelDir(model, { arch, config, tokenizerTexts: texts, seed: 1 });
  const write = (name: string, rows: string[]) => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, rows.join('\n') + '\n');
    return f;
  };
  const data = arch === 'xglm' ? write('train.txt', texts) : write('train.jsonl', train.map((p) => JSON.stringify(p)));
  const evalData = arch === 'xglm' ? write('dev.txt', dev.flatMap((p) => [p.src, p.tgt])) : write('dev.jsonl', dev.map((p) => JSON.stringify(p)));
  return { tmp, model, data, evalData };
}

test('translation run (NLLB-MoE): eval loss, chrF/BLEU, MoE metrics in JSONL, checkpoint, HF export that reloads', async () => {
  await useBackend('wasm');
  const s = setup('nllb-moe');
  const before = tf.memory().numTensors;
  const r = await runTraining({ ...base, modelDir: s.model, data: [s.data], evalData: [s.evalData], outDir: path.join(s.tmp, 'run'), moeLoss: 'standard' });
  assert.is(r.summary.step, 12);
  assert.equal(r.summary.evals.map((e) => e.step), [0, 6, 12]);
  const last = r.summary.evals[2].metrics;
  for (const k of ['loss', 'perplexity', 'chrf', 'bleu', 'encoder_aux_loss', 'decoder_z_loss']) assert.ok(Number.isFinite(last[k]), `${k} = ${last[k]}`);
  assert.ok(last.loss < r.summary.evals[0].metrics.loss, 'dev loss went down');
  assert.is(r.samples.length, 4);
  const lines = fs.readFileSync(r.summary.metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const step1 = lines.find((l) => l.type === 'train' && l.step === 1);
  assert.ok('moe/encoder.1/dropped_token_fraction' in step1 && 'lm_loss' in step1 && 'grad_norm' in step1 && 'tokens_per_s' in step1);
  // expert usage histogram per sparse layer: one count per expert, and fairseq's unused-expert count agrees with it
  const experts = (JSON.parse(fs.readFileSync(path.join(s.model, 'config.json'), 'utf8')) as { num_experts: number }).num_experts;
  for (const side of ['encoder', 'decoder']) {
    const usage = step1[`moe/${side}.1/expert_usage`] as number[];
    assert.is(usage.length, experts);
    assert.ok(usage.every((n) => Number.isInteger(n) && n >= 0) && usage.reduce((a, b) => a + b, 0) > 0, `${side} usage ${usage}`);
    assert.is(step1[`moe/${side}.1/unused_experts`], usage.filter((n) => n === 0).length);
  }
  assert.ok(fs.existsSync(path.join(s.tmp, 'run', 'checkpoints', 'checkpoint-0000012', 'trainer_state.json')));
  assert.ok(fs.existsSync(r.summary.plotFile!));
  const re = loadModel(r.exportDir!);
  assert.is(re.arch, 'nllb-moe');
  // polyglot export-hf: the last checkpoint exported alone equals the end-of-training export
  const fromCk = exportCheckpoint(s.model, path.join(s.tmp, 'run'), path.join(s.tmp, 'from-ck'));
  assert.is(fromCk.step, 12);
  const a = SafetensorsFile.open(path.join(r.exportDir!, 'model.safetensors'));
  const b = SafetensorsFile.open(path.join(fromCk.result.dir, 'model.safetensors'));
  assert.equal(b.names().sort(), a.names().sort());
  for (const n of a.names()) assert.equal(Array.from(b.read(n).data as Float32Array), Array.from(a.read(n).data as Float32Array), n);
  re.model.dispose();
  r.loaded.model.dispose();
  assert.is(tf.memory().numTensors, before, 'no tensor left behind by a whole run');
});

test('causal-lm run (XGLM) with gradient accumulation and --train-only', async () => {
  await useBackend('wasm');
  const s = setup('xglm');
  const frozenBefore = loadModel(s.model);
  const r = await runTraining({ ...base, gradAccum: 2, trainOnly: ['model.layers.**'], modelDir: s.model, data: [s.data], evalData: [s.evalData], outDir: path.join(s.tmp, 'run') });
  assert.is(r.summary.step, 12);
  const after = loadModel(r.exportDir!);
  const get = (m: ReturnType<typeof loadModel>, n: string) => Array.from(m.model.namedParameters().find((p) => p.name === n)!.variable.read().dataSync());
  // the embedding was frozen, a layer weight trained
  assert.equal(get(after, 'model.embed_tokens.weight'), get(frozenBefore, 'model.embed_tokens.weight'));
  assert.not.equal(get(after, 'model.layers.0.fc1.weight'), get(frozenBefore, 'model.layers.0.fc1.weight'));
  [frozenBefore, after, r.loaded].forEach((m) => m.model.dispose());
});

test.run();
