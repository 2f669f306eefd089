/**
 * LoRA on an int8 base (`--weights int8 --adapter DIR`): the base Linear products run through the
 * int8 hook (layers/linear.ts linearProducts) and the adapters add their float32 low-rank path.
 * Checked against the float32 base with the same adapters: within the int8 fixture bound (0.15,
 * test/weights-int8-fixtures.test.ts), while the adapters themselves move the logits by far more;
 * merging into int8 weights is refused (the quantized product would not see the merge).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { PolyglotError } from '../core/errors.js';
import { fixturePath, useBackend } from './helpers.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { applyWeightPrecision } from '../layers/weight-precision.js';
import { LoraModel } from '../train/lora/lora-model.js';

await useBackend('wasm');

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function top1Agreement(a: Float32Array, b: Float32Array, v: number): number {
  let agree = 0;
  for (let r = 0; r < a.length / v; r++) {
    let ia = 0;
    let ib = 0;
    for (let j = 0; j < v; j++) {
      if (a[r * v + j] > a[r * v + ia]) ia = j;
      if (b[r * v + j] > b[r * v + ib]) ib = j;
    }
    if (ia === ib) agree++;
  }
  return agree / (a.length / v);
}

function adapt(model: XGLMForCausalLM): LoraModel<XGLMForCausalLM> {
  const lora = new LoraModel(model, { r: 4, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj', 'fc1'] }, 7);
  const rng = new Rng(9);
  for (const { adapter } of lora.adapters.values()) {
    tf.tidy(() => {
      adapter.b.write(tf.randomNormal(adapter.b.read().shape, 0, 0.1, 'float32', rng.nextSeed()));
    });
  }
  return lora;
}

test('xglm-tiny int8 base + LoRA: logits within the int8 bound of float32 + LoRA; the adapters act; merge refused', () => {
  const ck = openCheckpoint(fixturePath('xglm-tiny'));
  const f32 = XGLMForCausalLM.fromCheckpoint(ck);
  const q8 = XGLMForCausalLM.fromCheckpoint(ck);
  applyWeightPrecision(q8, 'int8');
  const input = tf.tensor2d([[0, 5, 17, 230, 44, 9, 2, 1, 77, 300], [0, 99, 8, 7, 6, 500, 31, 2, 12, 13]], undefined, 'int32');
  const logits = (m: XGLMForCausalLM) => tf.tidy(() => m.forward({ inputIds: input }).logits.dataSync().slice() as Float32Array);
  const f32Base = logits(f32);
  const q8Base = logits(q8);
  const lf = adapt(f32);
  const lq = adapt(q8);
  const before = tf.memory().numTensors;
  const f32Lora = logits(f32);
  const q8Lora = logits(q8);
  assert.is(tf.memory().numTensors, before, 'tensors flat');
  const v = f32.config.vocabSize;
  const adapterEffect = maxAbsDiff(f32Lora, f32Base);
  const int8Error = maxAbsDiff(q8Lora, f32Lora);
  if (process.env.POLYGLOT_DEBUG) console.log({ adapterEffect, int8Error, q8AdapterEffect: maxAbsDiff(q8Lora, q8Base) });
  assert.ok(adapterEffect > 1, `the adapters move the float32 logits by ${adapterEffect}`);
  assert.ok(maxAbsDiff(q8Lora, q8Base) > 1, 'the adapters act on the int8 model too');
  assert.ok(int8Error > 0 && int8Error <= 0.15, `int8 + LoRA against float32 + LoRA: max abs ${int8Error}`);
  assert.ok(top1Agreement(q8Lora, f32Lora, v) >= 0.9, 'top-1 agreement');
  assert.throws(() => lq.merge(), (e: unknown) => e instanceof PolyglotError && /cannot merge an adapter into int8 weights/.test(e.message) && !e.message.includes('\n'));
  lq.detach();
  lf.detach();
  assert.equal(Array.from(logits(q8)), Array.from(q8Base), 'detached: the int8 model is unchanged');
  input.dispose();
  f32.dispose();
  q8.dispose();
});

test.run();
