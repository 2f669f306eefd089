/**
 * Issue 10 item 14: between beam steps HF's `_reorder_cache` moves only the key/value caches;
 * the encoder outputs and attention mask keep the expanded order (a finished batch entry's rows
 * point at row 0 and keep their own mask). Expansion (row count changes) moves everything.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { loadTranslator } from '../generation/load.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { fixturePath, useBackend } from './helpers.js';

test('beam reorder moves the caches only; expansion moves the encoder mask too', async () => {
  await useBackend('cpu');
  const tr = await loadTranslator(fixturePath('nllb-moe-tiny'));
  const ids = tf.tensor2d([[1190, 100, 200, 2], [1, 1, 1190, 2]], undefined, 'int32');
  const mask = tf.tensor2d([[1, 1, 1, 1], [0, 0, 1, 1]], undefined, 'int32');
  const before = tf.memory().numTensors;
  const s = new NllbMoeSession(tr.model, ids, mask);
  const maskOf = (): number[][] => (s as unknown as { encoderMask: tf.Tensor2D }).encoderMask.arraySync();
  s.reorder(Int32Array.from([0, 0, 1, 1])); // expansion to 2 beams
  assert.equal(maskOf(), [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]);
  const start = tf.tensor2d([[2], [2], [2], [2]], undefined, 'int32');
  tf.dispose(s.step(start));
  s.reorder(Int32Array.from([0, 0, 0, 0])); // entry 1 finished: HF points its rows at row 0
  assert.equal(maskOf(), [[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]], 'the mask keeps the expanded order');
  const next = tf.tensor2d([[1150], [1150], [1150], [1150]], undefined, 'int32');
  const out = s.step(next);
  const logits = out.arraySync();
  out.dispose();
  // Rows 2, 3 attend row 0's cross keys through their own mask: they differ from row 0.
  assert.equal(logits[1], logits[0]);
  assert.ok(logits[2].some((v, j) => Math.abs(v - logits[0][j]) > 1e-6), 'row 2 keeps its own mask');
  s.dispose();
  tf.dispose([start, next]);
  assert.is(tf.memory().numTensors, before);
  tf.dispose([ids, mask]);
});

test.run();
