/**
 * `--weights int8` on the fixture models (real HF checkpoints, tiny shapes): int8 logits
 * against the float32 forward (itself equal to HF's within the fixtures' tolerances, see
 * the verify tests), bounding the error and asserting top-1 agreement; tensors flat.
 * Measured on this build (random ids, so near-ties are common): XGLM max abs 0.095, top-1
 * 22 of 24 positions (int8 tied lm_head included); NLLB-MoE max abs 0.39, top-1 18 of 18 (POLYGLOT_DEBUG=1 prints them). Bounds
 * leave a margin over those; greedy generation stays token-exact on both fixtures
 * (`verify --weights int8`, generate_greedy cases).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { fixturePath, logitAgreement, randomIds, useBackend } from './helpers.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { applyWeightPrecision } from '../layers/weight-precision.js';
import { nativeAddon } from '../backend/native.js';

await useBackend('wasm');
// Other test files in the same process switch backends: every test here runs on wasm.
test.before.each(async () => {
  await useBackend('wasm');
});




test('xglm-tiny: int8 logits within 0.15 of float32, top-1 agreement >= 90%, natively', () => {
  const ck = openCheckpoint(fixturePath('xglm-tiny'));
  const f32 = XGLMForCausalLM.fromCheckpoint(ck);
  const q8 = XGLMForCausalLM.fromCheckpoint(ck);
  const report = applyWeightPrecision(q8, 'int8');
  assert.ok(report.tensors >= 4 * 2 + 2, `linear kernels quantized: ${report.tensors}`);
  if (nativeAddon() !== undefined) assert.ok(report.native && report.nativeBytes > 0, 'int8 weights in native memory');
  const input = randomIds(new Rng(4), 2, 12, f32.config.vocabSize);
  const before = tf.memory().numTensors;
  const a = f32.forward({ inputIds: input });
  const b = q8.forward({ inputIds: input });
  const r = logitAgreement(a.logits, b.logits);
  if (process.env.POLYGLOT_DEBUG) console.log('xglm int8', r);
  tf.dispose([a.logits, a.lastHiddenState, b.logits, b.lastHiddenState, ...a.presentKeyValues.flatMap((kv) => [kv.key, kv.value]), ...b.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
  assert.is(tf.memory().numTensors, before, 'tensors flat');
  assert.ok(r.maxAbs > 0, 'int8 changes the numbers (the int8 path really ran)');
  assert.ok(r.maxAbs <= 0.15, `max abs logit error ${r.maxAbs}`);
  assert.ok(r.top1 >= 0.9, `top-1 agreement ${r.top1}`);
  input.dispose();
  f32.dispose();
  q8.dispose();
});

test('nllb-moe-tiny: int8 logits within 0.5 of float32, top-1 agreement >= 90%', () => {
  const ck = openCheckpoint(fixturePath('nllb-moe-tiny'));
  const f32 = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  const q8 = NllbMoeForConditionalGeneration.fromCheckpoint(ck);
  applyWeightPrecision(q8, 'int8');
  const rng = new Rng(5);
  const src = randomIds(rng, 2, 10, 1204);
  const tgt = randomIds(rng, 2, 9, 1204);
  const [la, lb] = tf.tidy(() => [f32.forward({ inputIds: src, decoderInputIds: tgt }).logits, q8.forward({ inputIds: src, decoderInputIds: tgt }).logits]);
  const r = logitAgreement(la, lb);
  if (process.env.POLYGLOT_DEBUG) console.log('nllb int8', r);
  tf.dispose([la, lb]);
  assert.ok(r.maxAbs > 0 && r.maxAbs <= 0.5, `max abs logit error ${r.maxAbs}`);
  assert.ok(r.top1 >= 0.9, `top-1 agreement ${r.top1}`);
  tf.dispose([src, tgt]);
});

test.run();
