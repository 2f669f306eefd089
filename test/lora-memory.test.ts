/** Memory savers keep the math: chunked tied-head loss and gradient checkpointing give the same loss and gradients. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { fixturePath, useBackend } from './helpers.js';
import { loadModel } from '../train/load-model.js';
import { LoraModel } from '../train/lora/lora-model.js';
import type { ComputeLossOptions } from '../core/trainable.js';
import { PolyglotError } from '../core/errors.js';
import { checkFits, formatMemoryPlan, planTrainingMemory, WASM_HEAP_BYTES } from '../train/memory-plan.js';

const batch = () => {
  const ids = tf.tensor2d([[0, 5, 17, 230, 44, 9, 2, 1], [0, 99, 8, 7, 6, 500, 31, 2]], undefined, 'int32');
  const labels = tf.tensor2d([[0, 5, 17, 230, 44, 9, 2, -100], [0, 99, 8, 7, 6, 500, 31, 2]], undefined, 'int32');
  return { input_ids: ids, labels, attention_mask: tf.tensor2d([[1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1, 1]], undefined, 'int32') };
};

function gradsOf(lora: LoraModel, vars: { name: string; variable: tf.Variable }[], extra: Partial<ComputeLossOptions>): { loss: number; grads: Map<string, Float32Array> } {
  const { value, grads } = tf.variableGrads(() => tf.tidy(() => lora.computeLoss(batch(), { training: false, trained: vars, ...extra }).loss), vars.map((v) => v.variable));
  const out = new Map(vars.map((v) => [v.name, grads[v.variable.name].dataSync().slice() as Float32Array]));
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out };
}

function maxRel(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  let worst = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    const scale = Math.max(...y.map(Math.abs), 1e-12);
    x.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - y[i]) / scale)));
  }
  return worst;
}

test('chunked tied-head loss and gradient checkpointing: same loss and gradients (LoRA + trained embedding), tensors flat', async () => {
  await useBackend('wasm');
  const x = loadModel(fixturePath('xglm-tiny'));
  const lora = new LoraModel(x.model, { r: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'fc1'] }, 1);
  const rng = new Rng(3);
  for (const { adapter } of lora.adapters.values()) {
    tf.tidy(() => {
      adapter.b.write(tf.randomNormal(adapter.b.read().shape, 0, 0.05, 'float32', rng.nextSeed()));
    });
  }
  const emb = x.model.namedParameters().find((p) => p.name === 'model.embed_tokens.weight')!;
  const vars = [...lora.adapterParameters(), emb].map((p) => ({ name: p.name, variable: p.variable.read() as tf.Variable }));
  const plain = gradsOf(lora, vars, {});
  const before = tf.memory().numTensors;
  const chunked = gradsOf(lora, vars, { logitsChunkRows: 5 });
  assert.ok(Math.abs(chunked.loss - plain.loss) < 1e-5, `loss ${chunked.loss} vs ${plain.loss}`);
  assert.ok(maxRel(chunked.grads, plain.grads) < 1e-4, `chunked grads rel err ${maxRel(chunked.grads, plain.grads)}`);
  const ckpt = gradsOf(lora, vars, { logitsChunkRows: 3, gradientCheckpointing: { trained: vars } });
  assert.ok(Math.abs(ckpt.loss - plain.loss) < 1e-5, `loss ${ckpt.loss} vs ${plain.loss}`);
  assert.ok(maxRel(ckpt.grads, plain.grads) < 1e-4, `checkpointed grads rel err ${maxRel(ckpt.grads, plain.grads)}`);
  assert.is(tf.memory().numTensors, before, 'no tensor left behind');
  // frozen table: only the adapters are differentiated, same adapter gradients
  const adaptersOnly = vars.filter((v) => v.name.includes('lora_'));
  const frozen = gradsOf(lora, adaptersOnly, { logitsChunkRows: 4, gradientCheckpointing: { trained: adaptersOnly } });
  const plainAdapters = new Map([...plain.grads].filter(([k]) => k.includes('lora_')));
  assert.ok(maxRel(frozen.grads, plainAdapters) < 1e-4);
  assert.is(tf.memory().numTensors, before);
  // training mode with dropout: a checkpointed step is deterministic (recomputation redraws the same masks)
  const train = (seed: number) => {
    const r = new Rng(seed);
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => lora.computeLoss(batch(), { training: true, rng: r, trained: adaptersOnly, gradientCheckpointing: { trained: adaptersOnly } }).loss), adaptersOnly.map((v) => v.variable));
    const g = Object.values(grads).map((t) => Array.from(t.dataSync()));
    const l = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { l, g };
  };
  assert.equal(train(9), train(9));
  lora.detach();
  x.model.dispose();
});

test('NLLB-MoE: chunked head + checkpointed dense blocks give the same loss and LoRA gradients', async () => {
  await useBackend('wasm');
  const n = loadModel(fixturePath('nllb-moe-tiny'));
  const lora = new LoraModel(n.model, { r: 2, alpha: 4, dropout: 0, targetModules: '.*\\.(?:q_proj|v_proj)|.*layers\\.0\\.ffn\\.fc1' }, 2);
  const rng = new Rng(5);
  for (const { adapter } of lora.adapters.values()) {
    tf.tidy(() => {
      adapter.b.write(tf.randomNormal(adapter.b.read().shape, 0, 0.05, 'float32', rng.nextSeed()));
    });
  }
  const vars = lora.adapterParameters().map((p) => ({ name: p.name, variable: p.variable.read() as tf.Variable }));
  const nb = () => ({
    input_ids: tf.tensor2d([[1100, 5, 17, 230, 2], [1100, 99, 8, 2, 1]], undefined, 'int32'),
    attention_mask: tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]], undefined, 'int32'),
    labels: tf.tensor2d([[1110, 40, 41, 2], [1110, 50, 2, -100]], undefined, 'int32'),
  });
  const run = (extra: Partial<ComputeLossOptions>) => {
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => lora.computeLoss(nb(), { training: false, trained: vars, ...extra }).loss), vars.map((v) => v.variable));
    const g = new Map(vars.map((v) => [v.name, grads[v.variable.name].dataSync().slice() as Float32Array]));
    const loss = value.dataSync()[0];
    tf.dispose([value, ...Object.values(grads)]);
    return { loss, g };
  };
  const plain = run({});
  const before = tf.memory().numTensors;
  const lean = run({ logitsChunkRows: 3, gradientCheckpointing: { trained: vars } });
  assert.is(tf.memory().numTensors, before);
  assert.ok(Math.abs(lean.loss - plain.loss) < 1e-5, `loss ${lean.loss} vs ${plain.loss}`);
  assert.ok(maxRel(lean.g, plain.g) < 1e-4, `grads rel err ${maxRel(lean.g, plain.g)}`);
  lora.detach();
  n.model.dispose();
});

test('memory plan: XGLM-564M full fine-tune is refused on wasm with what fits; its LoRA step fits', () => {
  const shape = { encoderLayers: 24, decoderLayers: 0, crossAttention: false, dModel: 1024, ffnDim: 4096, heads: 16, vocab: 256008, parameters: 564_463_616 };
  const step = { batch: 4, length: 128, trained: 564_463_616, gradientCheckpointing: false, chunkedLogits: true };
  let msg = '';
  try {
    checkFits(shape, step, { limit: WASM_HEAP_BYTES, lora: false, loraTrained: 1_572_864, canCheckpoint: true });
  } catch (e) {
    assert.instance(e, PolyglotError);
    msg = (e as Error).message;
  }
  assert.match(msg, /^training step needs about 10\.\d\d GiB \(weights 2\.10 GiB, gradients 2\.10 GiB, optimizer 4\.21 GiB, /);
  assert.match(msg, /would fit: --lora --gradient-checkpointing; or --backend tensorflow/);
  assert.not.match(msg, /\n/);
  const lora = planTrainingMemory(shape, { ...step, trained: 1_572_864, gradientCheckpointing: true });
  assert.ok(lora.total < WASM_HEAP_BYTES && lora.gradients === 1_572_864 * 4 && lora.optimizer === 1_572_864 * 8, formatMemoryPlan(lora));
});

test.run();
