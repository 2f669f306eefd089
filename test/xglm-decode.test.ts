/** KV-cache decoding against the full forward, the DecoderSession, and tensor counts over 50 steps. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { parseXGLMConfig } from '../models/xglm/config.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { initXGLMWeights } from '../models/xglm/init.js';
import { XGLMDecoderSession } from '../models/xglm/session.js';
import { eagerOps } from '../ops/eager.js';
import { useBackend } from './helpers.js';

function tinyModel(extra: Record<string, unknown> = {}): XGLMForCausalLM {
  const cfg = parseXGLMConfig({ vocab_size: 50, d_model: 16, ffn_dim: 32, num_layers: 2, attention_heads: 4, max_position_embeddings: 8, init_std: 0.5, ...extra });
  const lm = new XGLMForCausalLM(cfg);
  initXGLMWeights(lm, 7);
  return lm;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`${backend}: decoding with the cache equals the full forward, left padding included`, async () => {
    await useBackend(backend);
    const lm = tinyModel();
    // Row 1 left-padded by 2; positions as HF generation (cumsum - 1, padding -> 1).
    const ids = [[5, 9, 3, 7, 11, 13], [1, 1, 4, 8, 12, 6]];
    const mask = [[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]];
    const pos = [[0, 1, 2, 3, 4, 5], [1, 1, 0, 1, 2, 3]];
    const full = lm.forward({ inputIds: tf.tensor2d(ids, undefined, 'int32'), attentionMask: tf.tensor2d(mask, undefined, 'int32'), positionIds: tf.tensor2d(pos, undefined, 'int32') });
    const session = new XGLMDecoderSession(lm, mask.map((r) => r.slice(0, 3)));
    const steps: tf.Tensor[] = [session.step(tf.tensor2d(ids.map((r) => r.slice(0, 3)), undefined, 'int32'))];
    for (let t = 3; t < 6; t++) steps.push(session.step(tf.tensor2d(ids.map((r) => [r[t]]), undefined, 'int32')));
    for (let k = 0; k < steps.length; k++) {
      const t = k + 2;
      const ref = tf.tidy(() => tf.reshape(tf.slice(full.logits, [0, t, 0], [2, 1, 50]), [2, 50]));
      const d = maxAbsDiff(steps[k], ref);
      assert.ok(d < 2e-5, `step ${k}: max abs diff ${d}`);
      // Values are real logits, not zeros.
      assert.ok(tf.tidy(() => tf.max(tf.abs(ref)).dataSync()[0]) > 0.1);
      ref.dispose();
    }
    tf.dispose([...steps, full.logits, full.lastHiddenState, ...full.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
    session.dispose();
    lm.dispose();
  });

  test(`${backend}: tensor count flat over 50 decode steps; the cache grows past max_position_embeddings`, async () => {
    await useBackend(backend);
    const lm = tinyModel();
    const session = new XGLMDecoderSession(lm, [[1, 1], [1, 1]]);
    tf.dispose(session.step(tf.tensor2d([[3, 4], [5, 6]], undefined, 'int32')));
    const counts: number[] = [];
    for (let i = 0; i < 50; i++) {
      const tok = tf.tensor2d([[7], [8]], undefined, 'int32');
      const logits = session.step(tok);
      assert.equal(logits.shape, [2, 50]);
      tf.dispose([tok, logits]);
      counts.push(tf.memory().numTensors);
    }
    assert.is(session.length, 52);
    assert.is(counts[49], counts[1], `tensors went from ${counts[1]} to ${counts[49]}`);
    assert.ok(lm.model.embedPositions.numRows >= 52 + 2, 'position table grew past max_position_embeddings (8)');
    session.dispose();
    lm.dispose();
  });

  test(`${backend}: reorder gathers cache rows (beam expansion)`, async () => {
    await useBackend(backend);
    const lm = tinyModel();
    const a = new XGLMDecoderSession(lm, [[0, 1, 1], [1, 1, 1]]);
    const prompt = tf.tensor2d([[1, 4, 5], [6, 7, 8]], undefined, 'int32');
    tf.dispose(a.step(prompt));
    a.reorder(Int32Array.from([1, 1, 0]));
    assert.is(a.batchSize, 3);
    const next = tf.tensor2d([[9], [9], [9]], undefined, 'int32');
    const la = a.step(next);
    // Same thing without reorder, rows fed directly in the new order.
    const b = new XGLMDecoderSession(lm, [[1, 1, 1], [1, 1, 1], [0, 1, 1]]);
    const prompt2 = tf.tensor2d([[6, 7, 8], [6, 7, 8], [1, 4, 5]], undefined, 'int32');
    tf.dispose(b.step(prompt2));
    const lb = b.step(next);
    assert.ok(maxAbsDiff(la, lb) < 1e-5);
    tf.dispose([prompt, prompt2, next, la, lb]);
    a.dispose();
    b.dispose();
    lm.dispose();
  });
}

test('cpu: odd d_model (15, 3 heads): cached decoding equals the full forward', async () => {
  await useBackend('cpu');
  const lm = tinyModel({ d_model: 15, attention_heads: 3, ffn_dim: 20 });
  const ids = tf.tensor2d([[5, 9, 3, 7, 11]], undefined, 'int32');
  const full = lm.forward({ inputIds: ids });
  const session = new XGLMDecoderSession(lm, undefined, 1);
  const first = session.step(tf.tensor2d([[5, 9]], undefined, 'int32'));
  const rest = [3, 7, 11].map((t) => session.step(tf.tensor2d([[t]], undefined, 'int32')));
  const got = [first, ...rest];
  for (let k = 0; k < got.length; k++) {
    const ref = tf.tidy(() => tf.reshape(tf.slice(full.logits, [0, k + 1, 0], [1, 1, 50]), [1, 50]));
    assert.ok(maxAbsDiff(got[k], ref) < 2e-5, `position ${k + 1}`);
    ref.dispose();
  }
  // The table's last column is zero for odd d (HF pads with a zero column).
  const table = lm.model.embedPositions.table(eagerOps) as tf.Tensor;
  assert.is(tf.tidy(() => tf.max(tf.abs(tf.slice(table, [0, 14], [-1, 1]))).dataSync()[0]), 0);
  tf.dispose([ids, ...got, full.logits, full.lastHiddenState, ...full.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
  session.dispose();
  lm.dispose();
});

test('cpu: sequences longer than max_position_embeddings grow the table; logits equal a model with a big table', async () => {
  await useBackend('cpu');
  const small = tinyModel({ max_position_embeddings: 4 });
  const big = tinyModel({ max_position_embeddings: 64 });
  assert.is(small.model.embedPositions.numRows, 6);
  const ids = tf.tensor2d([[5, 9, 3, 7, 11, 13, 17, 19, 23, 29]], undefined, 'int32');
  const a = small.forward({ inputIds: ids });
  const b = big.forward({ inputIds: ids });
  assert.ok(small.model.embedPositions.numRows >= 12);
  assert.ok(maxAbsDiff(a.logits, b.logits) < 1e-6);
  // Row for position 9 exists and holds HF's values.
  const rows = tf.tidy(() => small.model.embedPositions.lookupPositions(eagerOps, tf.tensor1d([9], 'int32')).arraySync()) as number[][];
  assert.ok(Math.abs(rows[0][0] - Math.sin(11)) < 1e-6, 'row 11 = position 9 + offset 2: first column sin(11 * freq_0 = 11)');
  tf.dispose([ids, a.logits, a.lastHiddenState, b.logits, b.lastHiddenState, ...a.presentKeyValues.flatMap((kv) => [kv.key, kv.value]), ...b.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
  small.dispose();
  big.dispose();
});

test('cpu: an attention mask of the wrong length is a clear error', async () => {
  await useBackend('cpu');
  const lm = tinyModel();
  const ids = tf.tensor2d([[5, 9, 3]], undefined, 'int32');
  const mask = tf.tensor2d([[1, 1]], undefined, 'int32');
  assert.throws(() => lm.forward({ inputIds: ids, attentionMask: mask }), (e: Error) => e.message === 'attentionMask: expected 3 columns (past 0 + new 3 tokens), found 2');
  tf.dispose([ids, mask]);
  lm.dispose();
});

test('cpu: training randomness follows the rng; LayerDrop 1.0 skips every block, eval never drops', async () => {
  await useBackend('cpu');
  const { Rng } = await import('../core/random.js');
  const lm = tinyModel({ dropout: 0.3, attention_dropout: 0.2 });
  const ids = tf.tensor2d([[5, 9, 3, 7]], undefined, 'int32');
  const batch = { input_ids: ids, labels: ids };
  const loss = (seed: number) => tf.tidy(() => lm.computeLoss(batch, { training: true, rng: new Rng(seed) }).loss.dataSync()[0]);
  assert.is(loss(3), loss(3));
  assert.is.not(loss(3), loss(4));
  const evalLoss = tf.tidy(() => lm.computeLoss(batch, { training: false }).loss.dataSync()[0]);
  assert.is(evalLoss, tf.tidy(() => lm.computeLoss(batch, { training: false }).loss.dataSync()[0]));
  lm.dispose();

  const ld = tinyModel({ layerdrop: 1, dropout: 0, attention_dropout: 0 });
  const out = ld.forward({ inputIds: ids, training: true, rng: new Rng(1) });
  assert.is(out.presentKeyValues.length, 0, 'no cache when blocks were skipped');
  // Without blocks: hidden = final LayerNorm(embed * sqrt(d) + positions).
  const m = ld.model;
  const expected = tf.tidy(() => m.layerNorm.run(eagerOps, tf.add(m.embedTokens.run(eagerOps, ids), m.embedPositions.lookupPositions(eagerOps, tf.tensor2d([[0, 1, 2, 3]], undefined, 'int32')))));
  assert.ok(maxAbsDiff(out.lastHiddenState, expected) < 1e-6);
  const evalOut = ld.forward({ inputIds: ids });
  assert.is(evalOut.presentKeyValues.length, 2, 'eval runs both blocks');
  assert.ok(maxAbsDiff(evalOut.lastHiddenState, expected) > 1e-3);
  tf.dispose([ids, expected, out.logits, out.lastHiddenState, evalOut.logits, evalOut.lastHiddenState, ...evalOut.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
  ld.dispose();
});

test('cpu: loss = mean CE of logits[:, :-1] vs labels[:, 1:] ignoring -100', async () => {
  await useBackend('cpu');
  const lm = tinyModel({ dropout: 0, attention_dropout: 0 });
  const ids = tf.tensor2d([[5, 9, 3, 7], [4, 8, 1, 1]], undefined, 'int32');
  const mask = tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]], undefined, 'int32');
  const labels = tf.tensor2d([[5, 9, 3, 7], [4, 8, -100, -100]], undefined, 'int32');
  const loss = tf.tidy(() => lm.computeLoss({ input_ids: ids, attention_mask: mask, labels }, { training: false }).loss.dataSync()[0]);
  const out = lm.forward({ inputIds: ids, attentionMask: mask });
  const logp = tf.logSoftmax(out.logits).arraySync() as number[][][];
  // Targets: row 0 positions 0..2 -> 9, 3, 7; row 1 position 0 -> 8 (position 1's target is -100).
  const picks = [logp[0][0][9], logp[0][1][3], logp[0][2][7], logp[1][0][8]];
  const expected = -picks.reduce((s, x) => s + x, 0) / picks.length;
  assert.ok(Math.abs(loss - expected) < 1e-5, `${loss} vs ${expected}`);
  tf.dispose([ids, mask, labels, out.logits, out.lastHiddenState, ...out.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
  lm.dispose();
});

test.run();
