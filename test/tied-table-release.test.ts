/**
 * `releaseTiedTables` (layers/weight-precision.ts): with int8 / 16-bit weights on the native path,
 * generation reads embedding rows from the tied output projection's native copy and the float32
 * table leaves the wasm heap. 16-bit: the same logits bit for bit (the copy holds exactly the
 * rounded table), generation included. int8: lookups read a float16 copy of the table (the int8
 * rows measured past the bound on nllb-moe-tiny), so the logits move slightly, within the bounds
 * the int8 fixtures test holds for `--weights int8` (weights-int8-fixtures.test.ts). Afterwards a graph
 * export or training use of the table is a clear error; float32 models are left alone.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { fixturePath, logitAgreement, randomIds, useBackend } from './helpers.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { applyWeightPrecision, releaseTiedTables } from '../layers/weight-precision.js';
import { nativeAddon } from '../backend/native.js';
import { eagerOps } from '../ops/eager.js';
import { generateText } from '../generation/generate-text.js';
import { loadTextGenerator, loadTranslator } from '../generation/load.js';
import { loadPretrainedTokenizer } from '../models/registry.js';
import type { XGLMTokenizer } from '../tokenizers/xglm.js';

await useBackend('wasm');
// Other test files in the same process switch backends: every test here runs on wasm.
test.before.each(async () => {
  await useBackend('wasm');
});



function xglmLogits(lm: XGLMForCausalLM, input: tf.Tensor2D): tf.Tensor {
  return tf.tidy(() => lm.forward({ inputIds: input }).logits);
}

const native = nativeAddon() !== undefined;

test('xglm-tiny bfloat16: released table gives the same logits and tokens bit for bit, frees vocab x d x 4 bytes of heap', async () => {
  if (!native) return;
  const ck = openCheckpoint(fixturePath('xglm-tiny'));
  const kept = XGLMForCausalLM.fromCheckpoint(ck);
  const released = XGLMForCausalLM.fromCheckpoint(ck);
  applyWeightPrecision(kept, 'bfloat16');
  applyWeightPrecision(released, 'bfloat16');
  const input = randomIds(new Rng(3), 2, 12, kept.config.vocabSize);
  const bytes = tf.memory().numBytes;
  const tensors = tf.memory().numTensors;
  const freed = releaseTiedTables(released);
  assert.is(freed, 4 * kept.config.vocabSize * kept.config.dModel);
  assert.is(bytes - tf.memory().numBytes, freed);
  assert.is(tensors - tf.memory().numTensors, 1);
  assert.is(releaseTiedTables(released), 0, 'a second call does nothing');
  assert.not.ok(released.namedParameters().some((p) => p.name === 'model.embed_tokens.weight'));
  const a = xglmLogits(kept, input);
  const b = xglmLogits(released, input);
  assert.equal(Array.from(b.dataSync()), Array.from(a.dataSync()));
  assert.throws(() => released.model.embedTokens.table(eagerOps), /model\.embed_tokens\.weight: the float32 table was released for inference/);
  tf.dispose([a, b, input]);
  // Generation (the KV-cache session) reads the released rows too: the same tokens.
  const tokenizer = await loadPretrainedTokenizer(fixturePath('xglm-tiny'));
  const gen = (lm: XGLMForCausalLM) => generateText(lm, tokenizer as XGLMTokenizer, ['Hello world'], { maxNewTokens: 8, doSample: false });
  const numTensors = tf.memory().numTensors;
  const [g1, g2] = [await gen(kept), await gen(released)];
  assert.equal(g2[0].ids, g1[0].ids);
  assert.is(tf.memory().numTensors, numTensors, 'generation leaves no tensor');
  kept.dispose();
  released.dispose();
});

test('xglm-tiny and nllb-moe-tiny int8: released tables stay within the int8 bounds against float32', () => {
  if (!native) return;
  const xck = openCheckpoint(fixturePath('xglm-tiny'));
  const f32 = XGLMForCausalLM.fromCheckpoint(xck);
  const q8 = XGLMForCausalLM.fromCheckpoint(xck);
  applyWeightPrecision(q8, 'int8');
  const input = randomIds(new Rng(4), 2, 12, f32.config.vocabSize);
  const before = xglmLogits(q8, input);
  assert.ok(releaseTiedTables(q8) > 0);
  const a = xglmLogits(f32, input);
  const b = xglmLogits(q8, input);
  const r = logitAgreement(a, b);
  if (process.env.POLYGLOT_DEBUG) console.log('xglm int8 released', r, logitAgreement(before, b));
  assert.ok(logitAgreement(before, b).maxAbs > 0, 'the lookups now read the float16 copy');
  assert.ok(r.maxAbs <= 0.15, `max abs logit error ${r.maxAbs}`);
  assert.ok(r.top1 >= 0.9, `top-1 agreement ${r.top1}`);
  tf.dispose([a, b, before, input]);
  f32.dispose();
  q8.dispose();

  const nck = openCheckpoint(fixturePath('nllb-moe-tiny'));
  const nf32 = NllbMoeForConditionalGeneration.fromCheckpoint(nck);
  const nq8 = NllbMoeForConditionalGeneration.fromCheckpoint(nck);
  applyWeightPrecision(nq8, 'int8');
  assert.is(releaseTiedTables(nq8), 4 * nf32.config.vocabSize * nf32.config.dModel);
  const rng = new Rng(5);
  const src = randomIds(rng, 2, 10, 1204);
  const tgt = randomIds(rng, 2, 9, 1204);
  const [la, lb] = tf.tidy(() => [nf32.forward({ inputIds: src, decoderInputIds: tgt }).logits, nq8.forward({ inputIds: src, decoderInputIds: tgt }).logits]);
  const n = logitAgreement(la, lb);
  if (process.env.POLYGLOT_DEBUG) console.log('nllb int8 released', n);
  assert.ok(n.maxAbs > 0 && n.maxAbs <= 0.5, `max abs logit error ${n.maxAbs}`);
  assert.ok(n.top1 >= 0.9, `top-1 agreement ${n.top1}`);
  tf.dispose([la, lb, src, tgt]);
  nf32.dispose();
  nq8.dispose();
});

test('inference loads: tables go straight to native memory; the same logits as releasing after a full load', async () => {
  if (!native) return;
  for (const weights of ['int8', 'bfloat16'] as const) {
    const bytes0 = tf.memory().numBytes;
    const full = (await loadTextGenerator(fixturePath('xglm-tiny'), { weights })).model;
    const fullBytes = tf.memory().numBytes - bytes0;
    const bytes1 = tf.memory().numBytes;
    const lean = (await loadTextGenerator(fixturePath('xglm-tiny'), { weights, inference: true })).model;
    const leanBytes = tf.memory().numBytes - bytes1;
    assert.is(fullBytes - leanBytes, 4 * full.config.vocabSize * full.config.dModel, `${weights}: the heap never held the table`);
    assert.not.ok(lean.namedParameters().some((p) => p.name === 'model.embed_tokens.weight'));
    releaseTiedTables(full);
    const input = randomIds(new Rng(6), 2, 10, full.config.vocabSize);
    const a = xglmLogits(full, input);
    const b = xglmLogits(lean, input);
    assert.equal(Array.from(b.dataSync()), Array.from(a.dataSync()), `${weights}: same logits`);
    assert.throws(() => lean.model.embedTokens.embeddings, /the float32 table was released for inference/);
    tf.dispose([a, b, input]);
    full.dispose();
    lean.dispose();
  }
  // NLLB-MoE and a dense M2M-100 (tied aliases in its files): translation loads the same way.
  for (const fixture of ['nllb-moe-tiny', 'm2m100-tiny']) {
    const full = (await loadTranslator(fixturePath(fixture), { weights: 'int8' })).model;
    const lean = (await loadTranslator(fixturePath(fixture), { weights: 'int8', inference: true })).model;
    releaseTiedTables(full);
    const rng = new Rng(8);
    const src = randomIds(rng, 2, 7, full.config.vocabSize);
    const tgt = randomIds(rng, 2, 5, full.config.vocabSize);
    const [la, lb] = tf.tidy(() => [full.forward({ inputIds: src, decoderInputIds: tgt }).logits, lean.forward({ inputIds: src, decoderInputIds: tgt }).logits]);
    assert.equal(Array.from(lb.dataSync()), Array.from(la.dataSync()), `${fixture}: same logits`);
    tf.dispose([la, lb, src, tgt]);
    full.dispose();
    lean.dispose();
  }
});

test('float32 models keep their table', () => {
  const lm = XGLMForCausalLM.fromCheckpoint(openCheckpoint(fixturePath('xglm-tiny')));
  assert.is(releaseTiedTables(lm), 0);
  assert.ok(lm.namedParameters().some((p) => p.name === 'model.embed_tokens.weight'));
  lm.dispose();
});

test.run();
