/**
 * LoRA on an m2m_100 checkpoint (dense NLLB-200 / M2M-100, read by the NLLB-MoE class): adapters are
 * named after HF's M2M100 modules (peft keys `base_model.model.model.decoder.layers.0.encoder_attn.q_proj.lora_A.weight`,
 * not our `cross_attention` spelling); step 0 equals the base exactly; a saved adapter reloads to the
 * same logits; merged (in memory and as a written m2m_100 directory) equals unmerged.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { fixturePath, useBackend } from './helpers.js';
import { loadModel, type LoadedModel } from '../train/load-model.js';
import { LoraModel } from '../train/lora/lora-model.js';
import { DEFAULT_LORA_TARGETS } from '../train/lora/targets.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loadPeftAdapter, writePeftAdapter } from '../train/lora/peft-adapter.js';
import { mergeAdapterToDir } from '../train/lora/merge.js';
import { SafetensorsFile } from '../convert/safetensors.js';

const FIXTURE = fixturePath('m2m100-tiny');

function logits(m: LoadedModel): Float32Array {
  if (m.arch !== 'nllb-moe') throw new Error('seq2seq only');
  return tf.tidy(() => {
    const src = tf.tensor2d([[4, 17, 230, 44, 9, 2], [4, 99, 8, 7, 2, 1]], undefined, 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]], undefined, 'int32');
    const dec = tf.tensor2d([[2, 5, 40, 41, 12], [2, 5, 50, 51, 13]], undefined, 'int32');
    return m.model.forward({ inputIds: src, attentionMask: mask, decoderInputIds: dec }).logits.dataSync().slice() as Float32Array;
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  a.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[i]))));
  return m;
}

test('m2m_100: HF module names, step 0 = base, peft round trip, merged = unmerged (in memory and written)', async () => {
  await useBackend('wasm');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-m2m100-'));
  const m = loadModel(FIXTURE);
  assert.is(m.format.modelType, 'm2m_100');
  const base = logits(m);
  const lora = new LoraModel(m.model, { r: 4, alpha: 8, dropout: 0.1, targetModules: DEFAULT_LORA_TARGETS }, 3, { hfName: m.format.weights.hfName });
  const modules = [...lora.adapters.keys()];
  assert.ok(modules.includes('model.encoder.layers.0.self_attn.q_proj'));
  assert.ok(modules.includes('model.decoder.layers.1.encoder_attn.v_proj'), 'cross-attention under its M2M100 name');
  assert.not.ok(modules.some((k) => k.includes('cross_attention')), 'no NLLB-MoE spelling');
  assert.is(modules.length, 2 * (2 + 2 * 2), 'q and v of every self- and cross-attention');
  assert.equal(Array.from(logits(m)), Array.from(base), 'step 0: bit-identical to the base');
  const rng = new Rng(4);
  for (const { adapter } of lora.adapters.values()) {
    tf.tidy(() => {
      adapter.b.write(tf.randomNormal(adapter.b.read().shape, 0, 0.05, 'float32', rng.nextSeed()));
    });
  }
  const adapted = logits(m);
  assert.ok(maxAbsDiff(adapted, base) > 1e-3, 'the adapters change the output');
  const adapterDir = path.join(tmp, 'adapter');
  writePeftAdapter(adapterDir, lora, { baseModelNameOrPath: 'facebook/nllb-200-distilled-600M', taskType: 'SEQ_2_SEQ_LM' });
  const cfg = JSON.parse(fs.readFileSync(path.join(adapterDir, ADAPTER_CONFIG), 'utf8'));
  assert.equal([cfg.peft_type, cfg.task_type, cfg.target_modules], ['LORA', 'SEQ_2_SEQ_LM', ['q_proj', 'v_proj']]);
  const st = SafetensorsFile.open(path.join(adapterDir, ADAPTER_WEIGHTS));
  const d = m.model.config.dModel;
  assert.equal(st.info('base_model.model.model.decoder.layers.0.encoder_attn.q_proj.lora_A.weight').shape, [4, d]);
  assert.equal(st.info('base_model.model.model.encoder.layers.1.self_attn.v_proj.lora_B.weight').shape, [d, 4]);
  assert.is(st.names().length, 2 * modules.length);
  lora.detach();
  assert.equal(Array.from(logits(m)), Array.from(base), 'detach restores the base');
  // reload by HF names: identical logits; merged in memory: equal within float rounding
  const reloaded = loadPeftAdapter(m.model, adapterDir, { hfName: m.format.weights.hfName });
  assert.equal(Array.from(logits(m)), Array.from(adapted), 'reloaded adapter: identical logits');
  reloaded.merge();
  assert.ok(maxAbsDiff(logits(m), adapted) < 2e-5, `merged in memory vs unmerged ${maxAbsDiff(logits(m), adapted)}`);
  m.model.dispose();
  // merge-adapter writes a plain m2m_100 directory with HF's weight names
  const mergedDir = path.join(tmp, 'merged');
  const r = mergeAdapterToDir(FIXTURE, adapterDir, mergedDir);
  assert.is(r.merged, modules.length);
  const written = SafetensorsFile.open(path.join(mergedDir, 'model.safetensors')).names();
  assert.ok(written.includes('model.decoder.layers.0.encoder_attn.q_proj.weight') && !written.some((n) => n.includes('cross_attention')));
  const merged = loadModel(mergedDir);
  assert.is(merged.format.modelType, 'm2m_100');
  const diff = maxAbsDiff(logits(merged), adapted);
  assert.ok(diff < 2e-5, `written merged model vs unmerged ${diff}`);
  merged.model.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.run();
