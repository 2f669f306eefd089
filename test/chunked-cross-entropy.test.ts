/**
 * The chunked tied-head loss (losses/chunked-cross-entropy.ts) against the plain one,
 * crossEntropy(hidden E^T, labels): same loss and the same gradients for hidden and the table,
 * with ignored labels, label smoothing, token chunks and vocabulary blocks that do not divide
 * the sizes; a frozen table gets no gradient and leaves no tensor behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { useBackend } from './helpers.js';
import { eagerOps } from '../ops/eager.js';
import { crossEntropy } from '../losses/cross-entropy.js';
import { chunkedTiedCrossEntropy } from '../losses/chunked-cross-entropy.js';

const N = 11;
const D = 6;
const V = 53;
const labelIds = [3, 52, -100, 0, 17, 17, 40, -100, 9, 52, 1];

function inputs() {
  const h = tf.variable(tf.randomNormal([N, D], 0, 1, 'float32', 1), true) as tf.Variable<tf.Rank.R2>;
  const e = tf.variable(tf.randomNormal([V, D], 0, 0.5, 'float32', 2), true) as tf.Variable<tf.Rank.R2>;
  return { h, e, labels: tf.tensor1d(labelIds, 'int32') };
}

function maxAbs(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  x.forEach((v, i) => (m = Math.max(m, Math.abs(v - y[i]))));
  return m;
}

for (const eps of [0, 0.1]) {
  test(`chunked = plain loss and gradients (label smoothing ${eps}), table trained and frozen`, async () => {
    await useBackend('wasm');
    const { h, e, labels } = inputs();
    const plain = tf.variableGrads(() => crossEntropy(eagerOps, tf.matMul(h, e, false, true), labels, { labelSmoothing: eps }) as tf.Scalar, [h, e]);
    const before = tf.memory().numTensors;
    const chunked = tf.variableGrads(() => chunkedTiedCrossEntropy(h, e, labels, { labelSmoothing: eps, tableNeedsGrad: true, chunkRows: 3, vocabRows: 7 }), [h, e]);
    assert.ok(Math.abs(chunked.value.dataSync()[0] - plain.value.dataSync()[0]) < 1e-5, 'loss');
    assert.ok(maxAbs(chunked.grads[h.name], plain.grads[h.name]) < 1e-6, `d hidden ${maxAbs(chunked.grads[h.name], plain.grads[h.name])}`);
    assert.ok(maxAbs(chunked.grads[e.name], plain.grads[e.name]) < 1e-6, `d table ${maxAbs(chunked.grads[e.name], plain.grads[e.name])}`);
    assert.ok(plain.grads[e.name].dataSync().some((x) => Math.abs(x) > 1e-3), 'the table gradient is not trivially zero');
    tf.dispose([chunked.value, ...Object.values(chunked.grads)]);
    // frozen table: gradients for hidden only, equal to the plain ones
    const frozen = tf.variableGrads(() => chunkedTiedCrossEntropy(h, e, labels, { labelSmoothing: eps, tableNeedsGrad: false, chunkRows: 4, vocabRows: 10 }), [h]);
    assert.equal(Object.keys(frozen.grads), [h.name]);
    assert.ok(maxAbs(frozen.grads[h.name], plain.grads[h.name]) < 1e-6);
    tf.dispose([frozen.value, ...Object.values(frozen.grads)]);
    assert.is(tf.memory().numTensors, before, 'no tensor left behind');
    tf.dispose([plain.value, ...Object.values(plain.grads), h, e, labels]);
  });
}

test.run();
