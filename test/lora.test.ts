import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { PolyglotError } from '../core/errors.js';
import { fixturePath, useBackend } from './helpers.js';
import { loadModel } from '../train/load-model.js';
import { LoraModel, linearModules } from '../train/lora/lora-model.js';
import { peftTargetModules } from '../train/lora/targets.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loadPeftAdapter, writePeftAdapter } from '../train/lora/peft-adapter.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import type { TrainableModel } from '../core/trainable.js';

const xglmBatch = () => {
  const ids = tf.tensor2d([[0, 5, 17, 230, 44, 9, 2, 1], [0, 99, 8, 7, 6, 500, 31, 2]], undefined, 'int32');
  return { input_ids: ids, labels: ids.clone(), attention_mask: tf.ones([2, 8], 'int32') };
};
const nllbBatch = () => ({
  input_ids: tf.tensor2d([[1100, 5, 17, 230, 2], [1100, 99, 8, 7, 2]], undefined, 'int32'),
  attention_mask: tf.ones([2, 5], 'int32'),
  decoder_input_ids: tf.tensor2d([[2, 1110, 40, 41], [2, 1110, 50, 51]], undefined, 'int32'),
  labels: tf.tensor2d([[1110, 40, 41, 2], [1110, 50, 51, 2]], undefined, 'int32'),
});

function lossOf(m: TrainableModel, batch: () => Record<string, tf.Tensor>): number {
  return tf.tidy(() => {
    const b = batch();
    return m.computeLoss(b, { training: false }).loss.dataSync()[0];
  });
}

function logitsXglm(m: ReturnType<typeof loadModel>): Float32Array {
  if (m.arch !== 'xglm') throw new Error('xglm only');
  return tf.tidy(() => {
    const b = xglmBatch();
    const out = m.model.forward({ inputIds: b.input_ids as tf.Tensor2D });
    const v = out.logits.dataSync().slice() as Float32Array;
    return v;
  });
}

/** Makes B non-zero so A has a gradient and the adapter changes the output. */
function randomizeB(lora: LoraModel, seed: number): void {
  const rng = new Rng(seed);
  for (const { adapter } of lora.adapters.values()) {
    tf.tidy(() => {
      adapter.b.write(tf.randomNormal(adapter.b.read().shape, 0, 0.05, 'float32', rng.nextSeed()));
    });
  }
}


test('step 0: a fresh adapter leaves XGLM logits and NLLB-MoE loss bit-identical; peft init ranges', async () => {
  await useBackend('wasm');
  const x = loadModel(fixturePath('xglm-tiny'));
  const before = logitsXglm(x);
  const lora = new LoraModel(x.model, { r: 4, alpha: 8, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] }, 3);
  assert.equal([...lora.adapters.keys()], ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj']);
  assert.is(lora.scaling, 2);
  assert.equal(Array.from(logitsXglm(x)), Array.from(before));
  const a = lora.adapters.get('model.layers.0.self_attn.q_proj')!.adapter;
  const av = a.a.read().dataSync();
  const bound = 1 / Math.sqrt(64);
  assert.ok(av.every((v) => Math.abs(v) <= bound) && Math.max(...av.map(Math.abs)) > bound * 0.8, 'A ~ U(-1/sqrt(in), 1/sqrt(in))');
  assert.ok(a.b.read().dataSync().every((v) => v === 0), 'B = 0');
  lora.detach();
  x.model.dispose();

  const n = loadModel(fixturePath('nllb-moe-tiny'));
  const base = lossOf(n.model, nllbBatch);
  const ln = new LoraModel(n.model, { r: 2, alpha: 16, dropout: 0, targetModules: peftTargetModules(['q_proj', 'v_proj', '**.experts.*.fc1']) }, 4);
  assert.ok([...ln.adapters.keys()].some((k) => k.includes('cross_attention.q_proj')) && [...ln.adapters.keys()].some((k) => /experts\.expert_\d+\.fc1$/.test(k)), [...ln.adapters.keys()].join());
  assert.is(lossOf(ln, nllbBatch), base);
  ln.detach();
  n.model.dispose();
});

test('LoRA gradients equal the merged-weight chain rule: dA = s G B^T, dB = s A^T G with G = dL/dW_eff', async () => {
  await useBackend('wasm');
  const x = loadModel(fixturePath('xglm-tiny'));
  const lora = new LoraModel(x.model, { r: 3, alpha: 6, dropout: 0, targetModules: ['q_proj', 'fc2'] }, 7);
  randomizeB(lora, 8);
  const s = lora.scaling;
  const adapterVars = lora.adapterParameters().map((p) => p.variable.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => tf.tidy(() => lora.computeLoss(xglmBatch(), { training: false }).loss), adapterVars);
  // merged: W_eff = W + s A B, gradient with respect to W_eff
  const entries = [...lora.adapters.entries()];
  const kernels = entries.map(([, { linear }]) => linear.kernel.read() as tf.Variable);
  const saved = kernels.map((k) => k.clone());
  for (const [, { adapter, linear }] of entries) adapter.mergeInto(linear);
  for (const [, { linear }] of entries) linear.adapter = undefined;
  const merged = tf.variableGrads(() => tf.tidy(() => x.model.computeLoss(xglmBatch(), { training: false }).loss), kernels);
  let worst = 0;
  for (const [i, [, { adapter }]] of entries.entries()) {
    const G = merged.grads[kernels[i].name];
    const wantA = tf.mul(tf.matMul(G, adapter.b.read(), false, true), s);
    const wantB = tf.mul(tf.matMul(adapter.a.read(), G, true, false), s);
    for (const [got, want] of [[grads[(adapter.a.read() as tf.Variable).name], wantA], [grads[(adapter.b.read() as tf.Variable).name], wantB]] as const) {
      const scale = tf.max(tf.abs(want)).dataSync()[0];
      const err = tf.max(tf.abs(tf.sub(got, want))).dataSync()[0];
      assert.ok(scale > 1e-6, 'non-trivial gradient');
      worst = Math.max(worst, err / scale);
    }
    tf.dispose([wantA, wantB]);
  }
  assert.ok(worst < 1e-4, `relative error ${worst}`);
  tf.dispose([...Object.values(grads), ...Object.values(merged.grads), merged.value]);
  saved.forEach((v, i) => kernels[i].assign(v));
  tf.dispose(saved);
  for (const [, { adapter }] of entries) adapter.disposeParameters();
  x.model.dispose();
});

test('peft files: names, fields, layouts; reload gives the same logits; merge equals unmerged', async () => {
  await useBackend('wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-peft-'));
  const x = loadModel(fixturePath('xglm-tiny'));
  const base = logitsXglm(x);
  const lora = new LoraModel(x.model, { r: 4, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] }, 1);
  randomizeB(lora, 2);
  const adapted = logitsXglm(x);
  assert.ok(adapted.some((v, i) => v !== base[i]), 'the adapter changes the output');
  const ln = x.model.namedParameters().find((p) => p.name === 'model.layers.0.self_attn_layer_norm.weight')!;
  writePeftAdapter(dir, lora, { baseModelNameOrPath: 'facebook/xglm-564M', taskType: 'CAUSAL_LM', extraParameters: [ln] });
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, ADAPTER_CONFIG), 'utf8'));
  assert.equal(Object.keys(cfg), [...Object.keys(cfg)].sort(), 'keys sorted as peft writes them');
  assert.equal(
    { peft_type: cfg.peft_type, r: cfg.r, lora_alpha: cfg.lora_alpha, lora_dropout: cfg.lora_dropout, target_modules: cfg.target_modules, bias: cfg.bias, task_type: cfg.task_type, base_model_name_or_path: cfg.base_model_name_or_path, fan_in_fan_out: cfg.fan_in_fan_out, modules_to_save: cfg.modules_to_save, inference_mode: cfg.inference_mode, use_rslora: cfg.use_rslora, use_dora: cfg.use_dora },
    { peft_type: 'LORA', r: 4, lora_alpha: 16, lora_dropout: 0.05, target_modules: ['q_proj', 'v_proj'], bias: 'none', task_type: 'CAUSAL_LM', base_model_name_or_path: 'facebook/xglm-564M', fan_in_fan_out: false, modules_to_save: ['model.layers.0.self_attn_layer_norm'], inference_mode: true, use_rslora: false, use_dora: false },
  );
  const st = SafetensorsFile.open(path.join(dir, ADAPTER_WEIGHTS));
  assert.equal(st.metadata, { format: 'pt' });
  assert.is(st.names().length, 4 * 2 + 1);
  assert.equal(st.info('base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight').shape, [4, 64]);
  assert.equal(st.info('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight').shape, [64, 4]);
  assert.ok(st.names().includes('base_model.model.model.layers.0.self_attn_layer_norm.weight'));
  // lora_A in the file is A^T of our [in, r] layout
  const aFile = st.read('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight').data as Float32Array;
  const aOurs = lora.adapters.get('model.layers.0.self_attn.q_proj')!.adapter.a.read();
  assert.equal(Array.from(aFile), Array.from(tf.tidy(() => tf.transpose(aOurs).dataSync())));
  lora.detach();
  assert.equal(Array.from(logitsXglm(x)), Array.from(base), 'detach restores the base');
  x.model.dispose();

  const y = loadModel(fixturePath('xglm-tiny'));
  const loaded = loadPeftAdapter(y.model, dir);
  assert.is(loaded.scaling, 4);
  assert.equal(Array.from(logitsXglm(y)), Array.from(adapted), 'reloaded adapter: identical logits');
  const before = tf.memory().numTensors;
  loaded.merge();
  assert.is(tf.memory().numTensors, before - 8, 'adapter variables freed by merge');
  const merged = logitsXglm(y);
  let worst = 0;
  merged.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - adapted[i]))));
  assert.ok(worst < 2e-5, `merged vs unmerged max |diff| ${worst}`);
  y.model.dispose();
});

test('bad adapters: one-line errors naming the file and field', async () => {
  await useBackend('wasm');
  const x = loadModel(fixturePath('xglm-tiny'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-bad-'));
  const lora = new LoraModel(x.model, { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'] }, 1);
  writePeftAdapter(dir, lora, { baseModelNameOrPath: null, taskType: 'CAUSAL_LM' });
  lora.detach();
  const cfgFile = path.join(dir, ADAPTER_CONFIG);
  const good = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
  const tryWith = (patch: Record<string, unknown>): string => {
    fs.writeFileSync(cfgFile, JSON.stringify({ ...good, ...patch }));
    try {
      loadPeftAdapter(x.model, dir).detach();
    } catch (e) {
      assert.instance(e, PolyglotError);
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.match(tryWith({ peft_type: 'IA3' }), /adapter_config.json: field "peft_type": expected "LORA", found "IA3"/);
  assert.match(tryWith({ target_modules: ['query_key_value'] }), /target_modules \["query_key_value"\]: matches no Linear module/);
  assert.match(tryWith({ r: 3 }), /lora_A.weight": expected shape \[3, 64\] \(from the base model and r = 3\), found \[2, 64\]/);
  assert.match(tryWith({ target_modules: ['q_proj', 'v_proj'] }), /v_proj.lora_A.weight": missing/);
  assert.match(tryWith({ target_modules: ['k_proj'] }), /q_proj is not a target of this adapter/);
  assert.match(tryWith({ use_dora: true }), /field "use_dora": expected false/);
  assert.is(tryWith({}), 'no error');
  assert.ok(linearModules(x.model).size > 0 && [...linearModules(x.model).values()].every((l) => l.adapter === undefined), 'failed loads leave no adapter behind');
  x.model.dispose();
});

test.run();
