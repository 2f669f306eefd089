import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { eagerOps } from '../ops/eager.js';
import { useBackend } from './helpers.js';
import { crossEntropy } from '../losses/cross-entropy.js';

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

test.run();
