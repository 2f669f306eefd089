import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { useBackend } from './helpers.js';
import { lrMultiplier } from '../train/schedules.js';
import { clipGradNorm, clipCoefficient } from '../train/clip.js';
import { AdamW } from '../train/adamw.js';
import { trainablePredicate, globToRegExp } from '../train/freeze.js';
import { GradAccumulator } from '../train/accumulate.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('schedules follow HF formulas', () => {
  // get_linear_schedule_with_warmup(warmup 10, total 110)
  close(lrMultiplier(0, { name: 'linear', warmupSteps: 10, totalSteps: 110 }), 0);
  close(lrMultiplier(5, { name: 'linear', warmupSteps: 10, totalSteps: 110 }), 0.5);
  close(lrMultiplier(10, { name: 'linear', warmupSteps: 10, totalSteps: 110 }), 1);
  close(lrMultiplier(60, { name: 'linear', warmupSteps: 10, totalSteps: 110 }), 0.5);
  close(lrMultiplier(200, { name: 'linear', warmupSteps: 10, totalSteps: 110 }), 0);
  // cosine: halfway through the decay -> 0.5; a quarter -> 0.5*(1+cos(pi/4))
  close(lrMultiplier(60, { name: 'cosine', warmupSteps: 10, totalSteps: 110 }), 0.5);
  close(lrMultiplier(35, { name: 'cosine', warmupSteps: 10, totalSteps: 110 }), 0.5 * (1 + Math.cos(Math.PI / 4)));
  // inverse sqrt, warmup 4: timescale 4, step 16 -> 1/sqrt(16/4) = 0.5
  close(lrMultiplier(16, { name: 'inverse_sqrt', warmupSteps: 4 }), 0.5);
  close(lrMultiplier(2, { name: 'inverse_sqrt', warmupSteps: 4 }), 0.5);
  // no warmup: timescale 10000 -> step 30000: 1/sqrt(4) = 0.5
  close(lrMultiplier(30000, { name: 'inverse_sqrt' }), 0.5);
  close(lrMultiplier(3, { name: 'constant', warmupSteps: 4 }), 0.75);
  close(lrMultiplier(1000, { name: 'constant' }), 1);
  assert.throws(() => lrMultiplier(1, { name: 'linear' }), /total number of steps/);
});

test('clip_grad_norm_ semantics', async () => {
  await useBackend('cpu');
  const g = new Map<string, tf.Tensor>([
    ['a', tf.tensor1d([3, 0])],
    ['b', tf.tensor2d([[0, 4]])],
  ]);
  const r = clipGradNorm(g, 1);
  close(r.totalNorm, 5, 1e-6);
  const a = r.grads.get('a')!.dataSync();
  close(a[0], 3 / (5 + 1e-6), 1e-6);
  const r2 = clipGradNorm(g, 10);
  close(r2.grads.get('b')!.dataSync()[1], 4, 1e-6);
  tf.dispose([...g.values(), ...r.grads.values(), ...r2.grads.values()]);
});

test('clipping through AdamW gradScale equals stepping with clipped gradients', async () => {
  await useBackend('cpu');
  const mk = (name: string) => tf.variable(tf.tensor1d([0.5, -1, 2]), true, name);
  const [a, b] = [mk('clip_a'), mk('clip_b')];
  const g = new Map<string, tf.Tensor>([['w', tf.tensor1d([3, -4, 12])]]);
  const o1 = new AdamW([{ name: 'w', variable: a, transposed: false }], { lr: 0.1, weightDecay: 0.1 });
  const o2 = new AdamW([{ name: 'w', variable: b, transposed: false }], { lr: 0.1, weightDecay: 0.1 });
  for (let i = 0; i < 3; i++) {
    const c = clipCoefficient(g.values(), 2);
    close(c.totalNorm, 13, 1e-5);
    o1.step(g, 0.1, c.coef);
    const clipped = clipGradNorm(g, 2);
    o2.step(clipped.grads, 0.1);
    tf.dispose([...clipped.grads.values()]);
  }
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < 3; i++) close(x[i], y[i], 1e-6);
  assert.ok(Math.abs(x[2] - 2) > 0.1, 'the parameters moved');
  tf.dispose([a, b, ...g.values()]);
  o1.dispose();
  o2.dispose();
});

test('freeze / train-only globs', () => {
  const names = [
    'model.shared.weight',
    'model.encoder.layers.1.ffn.router.classifier.weight',
    'model.encoder.layers.1.ffn.experts.expert_0.fc1.weight',
    'model.encoder.layers.0.ffn.fc1.weight',
    'model.decoder.layers.1.ffn.experts.expert_3.fc2.bias',
  ];
  const p = trainablePredicate(names, { trainOnly: ['**.ffn.experts.**', '**.router.**'] });
  assert.equal(names.map(p), [false, true, true, false, true]);
  const q = trainablePredicate(names, { freeze: ['model.shared.weight', 'model.encoder.**'] });
  assert.equal(names.map(q), [false, false, false, false, true]);
  assert.ok(globToRegExp('model.*.weight').test('model.shared.weight'));
  assert.not.ok(globToRegExp('model.*.weight').test('model.a.b.weight'));
  assert.throws(() => trainablePredicate(names, { freeze: ['nothing.*'] }), /matches no parameter/);
  assert.throws(() => trainablePredicate(names, { freeze: ['**'] }), /no parameter is left/);
});

test('accumulator sums scaled micro-batch gradients without leaking', async () => {
  await useBackend('cpu');
  const acc = new GradAccumulator();
  const before = tf.memory().numTensors;
  for (const x of [1, 3]) {
    const g = tf.tensor1d([x, 2 * x]);
    acc.add({ w: g }, 0.5);
    g.dispose();
  }
  assert.equal(Array.from(acc.grads().get('w')!.dataSync()), [2, 4]);
  acc.reset();
  assert.is(tf.memory().numTensors, before);
});

test.run();
