import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { fixturePath, useBackend } from './helpers.js';
import { runTraining, type TrainRunOptions } from '../train/run-training.js';
import { loadModel } from '../train/load-model.js';
import { loadPeftAdapter } from '../train/lora/peft-adapter.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import type { TrainableModel } from '../core/trainable.js';

const opts: Omit<TrainRunOptions, 'modelDir' | 'data' | 'outDir'> = {
  maxSteps: 8, lr: 5e-3, batchSize: 4, gradAccum: 1, warmupSteps: 1, schedule: 'linear', weightDecay: 0.01, maxGradNorm: 1,
  labelSmoothing: 0, evalEvery: 4, saveEvery: 4, keep: 2, seed: 11, maxLength: 24, devTranslations: 0,
  lora: true, loraR: 4, loraAlpha: 8, loraDropout: 0.1,
};

function lines(file: string, from: number, n: number): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).slice(from, from + n);
}

function setup(kind: 'xglm' | 'nllb') {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `lora-train-${kind}-`));
  const src = kind === 'xglm' ? fixturePath('corpus', 'monolingual.txt') : fixturePath('corpus', 'parallel', 'fr.jsonl');
  const ext = kind === 'xglm' ? 'txt' : 'jsonl';
  const data = path.join(tmp, `train.${ext}`);
  const dev = path.join(tmp, `dev.${ext}`);
  fs.writeFileSync(data, lines(src, 0, 64).join('\n') + '\n');
  fs.writeFileSync(dev, lines(src, 64, 16).join('\n') + '\n');
  return { tmp, data, dev, modelDir: fixturePath(kind === 'xglm' ? 'xglm-tiny' : 'nllb-moe-tiny') };
}

const hostParams = (m: TrainableModel) => new Map(m.namedParameters().map((p) => [p.name, Array.from(p.variable.read().dataSync())]));

test('XGLM LoRA run: frozen base bit-identical, adapter-only optimizer and checkpoints, flat tensors, exact resume, peft output', async () => {
  await useBackend('wasm');
  const s = setup('xglm');
  const baseBefore = loadModel(s.modelDir);
  const before = hostParams(baseBefore.model);
  baseBefore.model.dispose();
  const t0 = tf.memory().numTensors;
  const run = await runTraining({ ...opts, modelDir: s.modelDir, data: [s.data], evalData: [s.dev], outDir: path.join(s.tmp, 'a') });
  assert.is(run.summary.step, 8);
  const trained = run.lora!;
  const after = hostParams(run.loaded.model);
  for (const [name, v] of before) assert.equal(after.get(name), v, `${name} unchanged`);
  // only adapters in the checkpoint and its optimizer state
  const ck = path.join(s.tmp, 'a', 'checkpoints', 'checkpoint-0000008');
  const w = SafetensorsFile.open(path.join(ck, 'weights.safetensors')).names();
  const adapterNames = trained.model.adapterParameters().map((p) => p.name).sort();
  assert.equal([...w].sort(), adapterNames);
  assert.equal(SafetensorsFile.open(path.join(ck, 'optimizer.safetensors')).names().filter((n) => n.startsWith('m/')).map((n) => n.slice(2)).sort(), adapterNames);
  const recs = fs.readFileSync(run.summary.metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const counts = recs.filter((r) => r.type === 'train').map((r) => r.num_tensors as number);
  assert.ok(counts.every((c) => c === counts[0]), `tensor count per step ${counts}`);
  const evals = recs.filter((r) => r.type === 'eval');
  assert.ok(evals[evals.length - 1].loss < evals[0].loss, `dev loss ${evals[0].loss} -> ${evals[evals.length - 1].loss}`);
  const finalA = hostParams(trained.model);
  // the written adapter reproduces the trained one
  const adapterDir = run.exportDir!;
  assert.ok(fs.existsSync(path.join(adapterDir, 'adapter_config.json')) && fs.existsSync(path.join(adapterDir, 'adapter_model.safetensors')));
  trained.model.detach();
  run.loaded.model.dispose();
  assert.is(tf.memory().numTensors, t0, 'no tensor left after dispose');

  // resume from step 4 in a new folder: same losses at steps 5..8 and the same final adapter
  const out2 = path.join(s.tmp, 'b');
  fs.mkdirSync(path.join(out2, 'checkpoints'), { recursive: true });
  fs.cpSync(path.join(s.tmp, 'a', 'checkpoints', 'checkpoint-0000004'), path.join(out2, 'checkpoints', 'checkpoint-0000004'), { recursive: true });
  const resumed = await runTraining({ ...opts, modelDir: s.modelDir, data: [s.data], evalData: [s.dev], outDir: out2, resume: out2 });
  const losses = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'train' && r.step > 4).map((r) => r.loss);
  assert.is(losses(run.summary.metricsFile).length, 4);
  assert.equal(losses(resumed.summary.metricsFile), losses(run.summary.metricsFile));
  const resumedParams = hostParams(resumed.lora!.model);
  for (const n of adapterNames) assert.equal(resumedParams.get(n), finalA.get(n), `${n} after resume`);
  resumed.lora!.model.detach();
  resumed.loaded.model.dispose();

  const fresh = loadModel(s.modelDir);
  const loaded = loadPeftAdapter(fresh.model, adapterDir);
  const reread = hostParams(loaded);
  for (const n of adapterNames) assert.equal(reread.get(n), finalA.get(n), `${n} read back from the peft files`);
  loaded.detach();
  fresh.model.dispose();
});

test('NLLB-MoE LoRA run: router/aux losses and MoE metrics still logged, experts frozen', async () => {
  await useBackend('wasm');
  const s = setup('nllb');
  const r = await runTraining({ ...opts, maxSteps: 3, evalEvery: 3, saveEvery: 0, modelDir: s.modelDir, data: [s.data], evalData: [s.dev], outDir: path.join(s.tmp, 'n'), moeLoss: 'standard', srcLang: 'eng_Latn', tgtLang: 'fra_Latn' });
  const recs = fs.readFileSync(r.summary.metricsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const step1 = recs.find((x) => x.type === 'train' && x.step === 1);
  for (const k of ['lm_loss', 'encoder_aux_loss', 'decoder_z_loss']) assert.ok(Number.isFinite(step1[k]), `${k} = ${step1[k]}`);
  assert.ok(Object.keys(step1).some((k) => k.startsWith('moe/') && k.endsWith('/expert_usage')));
  assert.ok(r.lora!.model.adapters.has('model.decoder.layers.1.cross_attention.v_proj'));
  const cfg = JSON.parse(fs.readFileSync(path.join(r.exportDir!, 'adapter_config.json'), 'utf8'));
  assert.is(cfg.task_type, 'SEQ_2_SEQ_LM');
  r.lora!.model.detach();
  r.loaded.model.dispose();
});

test('LoRA step where LayerDrop skips every adapted layer: no gradient, nothing updated, the run goes on', async () => {
  await useBackend('wasm');
  const s = setup('xglm');
  const run = await runTraining({ ...opts, maxSteps: 2, evalEvery: 0, saveEvery: 0, modelDir: s.modelDir, data: [s.data], outDir: path.join(s.tmp, 'dropped'), configOverrides: { layerdrop: 0.999999 } });
  assert.is(run.summary.step, 2);
  assert.ok(Number.isFinite(run.summary.lastLoss));
  for (const { adapter } of run.lora!.model.adapters.values()) {
    assert.ok(adapter.b.read().dataSync().every((v) => v === 0), 'B still zero: no update without a gradient');
  }
  run.lora!.model.detach();
  run.loaded.model.dispose();
});

test.run();
