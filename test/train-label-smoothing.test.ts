import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { eagerOps } from '../ops/eager.js';
import { useBackend } from './helpers.js';
import { crossEntropy } from '../losses/cross-entropy.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { fixturePath } from './helpers.js';

// Expected values from the definition of torch's label smoothing: cross-entropy against the
// target distribution q = (1 - eps) * onehot(label) + eps / V, averaged over non-ignored rows.
function reference(logits: number[][], labels: number[], eps: number): number {
  let sum = 0;
  let n = 0;
  logits.forEach((row, i) => {
    if (labels[i] === -100) return;
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
    const V = row.length;
    sum += row.reduce((s, x, j) => s - ((j === labels[i] ? 1 - eps : 0) + eps / V) * (x - lse), 0);
    n++;
  });
  return sum / n;
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`${backend}: label smoothing matches CrossEntropyLoss(label_smoothing, ignore_index=-100)`, async () => {
    await useBackend(backend);
    const logits = [[1, 2, 3, -1], [0.5, 0, 5, 2], [3, -2, 0, 1], [0, 0, 0, 0]];
    const labels = [2, -100, 0, 3];
    for (const eps of [0, 0.1, 0.5]) {
      const got = tf.tidy(() => crossEntropy(eagerOps, tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), { labelSmoothing: eps }).dataSync()[0]);
      const want = reference(logits, labels, eps);
      assert.ok(Math.abs(got - want) < 1e-5, `eps ${eps}: ${got} vs ${want}`);
    }
    // eps changes the value (not a no-op) and the gradient flows
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => crossEntropy(eagerOps, x, tf.tensor1d(labels, 'int32'), { labelSmoothing: 0.1 }))(tf.tensor2d(logits)).arraySync() as number[][]);
    assert.equal(g[1], [0, 0, 0, 0], 'ignored row gets no gradient');
    assert.ok(Math.abs(g[0].reduce((a, b) => a + b, 0)) < 1e-6, 'softmax-CE gradient rows sum to 0');
    assert.throws(() => tf.tidy(() => crossEntropy(eagerOps, tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), { labelSmoothing: 1.5 })), /label smoothing/);
  });
}

// Both models must apply the trainer's labelSmoothing to their LM loss, on the same targets as
// without smoothing: the smoothed loss equals the reference formula on the model's own logits.
test('XGLM and NLLB-MoE computeLoss apply labelSmoothing to the LM loss', async () => {
  await useBackend('cpu');
  const ids = [[2, 10, 360, 399, 16, 293], [2, 124, 364, 315, 1, 1]];
  const labels = [[2, 10, 360, 399, 16, 293], [2, 124, 364, 315, -100, -100]];
  const mask = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];
  const xglm = XGLMForCausalLM.fromCheckpoint(openCheckpoint(fixturePath('xglm-tiny')));
  const batch = { input_ids: tf.tensor2d(ids, undefined, 'int32'), attention_mask: tf.tensor2d(mask, undefined, 'int32'), labels: tf.tensor2d(labels, undefined, 'int32') };
  const logits = tf.tidy(() => xglm.forward({ inputIds: batch.input_ids, attentionMask: batch.attention_mask }).logits.arraySync() as number[][][]);
  const shifted = logits.flatMap((row) => row.slice(0, -1));
  const targets = labels.flatMap((row) => row.slice(1));
  for (const eps of [0, 0.2]) {
    const got = tf.tidy(() => xglm.computeLoss(batch, { training: false, labelSmoothing: eps }).loss.dataSync()[0]);
    assert.ok(Math.abs(got - reference(shifted, targets, eps)) < 1e-4, `xglm eps ${eps}: ${got} vs ${reference(shifted, targets, eps)}`);
  }
  const nllb = NllbMoeForConditionalGeneration.fromCheckpoint(openCheckpoint(fixturePath('nllb-moe-tiny')));
  const src = { input_ids: tf.tensor2d([[1047, 10, 360, 2], [1047, 124, 2, 1]], undefined, 'int32'), attention_mask: tf.tensor2d([[1, 1, 1, 1], [1, 1, 1, 0]], undefined, 'int32'), labels: tf.tensor2d([[1057, 10, 2], [1057, 2, -100]], undefined, 'int32') };
  const nllbLogits = tf.tidy(() => {
    const out = nllb.forward({ inputIds: src.input_ids, attentionMask: src.attention_mask, labels: src.labels });
    return out.logits.arraySync() as number[][][];
  });
  const nllbTargets = (src.labels.arraySync() as number[][]).flat();
  for (const eps of [0, 0.2]) {
    const got = tf.tidy(() => nllb.computeLoss(src, { training: false, labelSmoothing: eps }).components.lm_loss.dataSync()[0]);
    const want = reference(nllbLogits.flat(), nllbTargets, eps);
    assert.ok(Math.abs(got - want) < 1e-4, `nllb eps ${eps}: ${got} vs ${want}`);
  }
  xglm.dispose();
  tf.dispose(Object.values(batch));
  tf.dispose(Object.values(src));
});

test.run();
