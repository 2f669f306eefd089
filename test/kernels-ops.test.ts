/**
 * Every op of ops/eager.ts on wasm (with our kernels) against the cpu backend, forward
 * and, for differentiable float ops, the gradient: finds wasm kernels that are missing
 * or wrong for what our models run. Tensor counts stay flat on wasm.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { eagerOps as o } from '../ops/eager.js';
import { useBackend, cpuThenWasm } from './helpers.js';

await useBackend('wasm');

type T = tf.Tensor;

async function same(what: string, fn: () => T[], tol = 1e-5): Promise<void> {
  const { expected, actual } = await cpuThenWasm(what, fn);
  assert.is(actual.length, expected.length, `${what}: outputs`);
  for (let i = 0; i < expected.length; i++) {
    const [a, e] = [actual[i], expected[i]];
    assert.equal(a.shape, e.shape, `${what}[${i}] shape`);
    assert.is(a.dtype, e.dtype, `${what}[${i}] dtype`);
    for (let j = 0; j < e.values.length; j++) {
      const ok = Number.isNaN(e.values[j]) ? Number.isNaN(a.values[j]) : Math.abs(a.values[j] - e.values[j]) <= tol * Math.max(1, Math.abs(e.values[j]));
      if (!ok) assert.unreachable(`${what}[${i}] at ${j}: wasm ${a.values[j]}, cpu ${e.values[j]}`);
    }
  }
}

const rng = new Rng(11);
const vals = (n: number, lo = -2, hi = 2): number[] => Array.from({ length: n }, () => lo + (hi - lo) * rng.uniform());
const X = vals(24);
const Y = vals(24);
const P = vals(24, 0.2, 3);
const Z6 = vals(6);
const W = vals(512);
const A12 = vals(12);
const Q = vals(2 * 8 * 4);
const K = vals(2 * 8 * 4);

/** f(x) and d sum(f(x) * w)/dx for a weighting w (so gradients are not all-ones). */
function withGrad(f: (x: T) => T, xv: number[], shape: number[]): () => T[] {
  return () => {
    const x = tf.tensor(xv, shape);
    const y = f(x);
    const w = tf.tensor(W.slice(0, y.size), y.shape);
    return [y, tf.grad((t: T) => tf.sum(tf.mul(f(t), w)))(x)];
  };
}

test('unary float ops and their gradients', async () => {
  const unary: [string, (x: T) => T, number[]][] = [
    ['neg', o.neg, X], ['abs', o.abs, X], ['exp', o.exp, X], ['log', o.log, P], ['sqrt', o.sqrt, P],
    ['rsqrt', o.rsqrt, P], ['square', o.square, X], ['tanh', o.tanh, X], ['erf', o.erf, X],
    ['relu', o.relu, X], ['sigmoid', o.sigmoid, X], ['sin', o.sin, X], ['cos', o.cos, X],
    ['floor', o.floor, X], ['ceil', o.ceil, X], ['softmax', o.softmax, X], ['logSoftmax', o.logSoftmax, X],
  ];
  for (const [name, f, xv] of unary) await same(name, withGrad(f, xv, [2, 3, 4]));
});

test('binary ops with broadcasting, and their gradients', async () => {
  const binary: [string, (a: T, b: T) => T, number[]][] = [
    ['add', o.add, X], ['sub', o.sub, X], ['mul', o.mul, X], ['div', o.div, P],
    ['maximum', o.maximum, X], ['minimum', o.minimum, X], ['pow', o.pow, P],
  ];
  for (const [name, f, av] of binary) {
    // tfjs-core's Maximum/Minimum gradients do not reduce broadcast dims (any backend):
    // their gradients are checked on equal shapes.
    const minMax = name === 'maximum' || name === 'minimum';
    await same(name, () => {
      const a = tf.tensor(av, [2, 3, 4]);
      const b = tf.tensor(Z6.map((v) => (name === 'div' ? 1 + Math.abs(v) : v)), [1, 3, 2]).slice([0, 0, 0], [1, 3, 1]);
      const y = f(a, b);
      const g = minMax ? [a, tf.tensor(Y, [2, 3, 4])] : [a, b];
      return [y, ...tf.grads((p: T, q: T) => tf.sum(tf.sin(f(p, q))))(g)];
    });
  }
});

test('comparisons, logic, where (with gradient), cast', async () => {
  await same('comparisons', () => {
    const a = tf.tensor(X.map(Math.round), [2, 3, 4]);
    const b = tf.tensor(Y.map(Math.round), [2, 3, 4]);
    const l = o.less(a, b);
    const g = o.greater(a, b);
    return [o.equal(a, b), o.notEqual(a, b), l, o.lessEqual(a, b), g, o.greaterEqual(a, b),
      o.logicalAnd(l, o.logicalNot(g)), o.logicalOr(l, g), o.logicalNot(l), o.cast(l, 'float32'), o.cast(a, 'int32')];
  });
  await same('where', () => {
    const c = o.greater(tf.tensor(Y, [2, 3, 4]), tf.scalar(0));
    const a = tf.tensor(X, [2, 3, 4]);
    const b = tf.tensor(P, [2, 3, 4]);
    const [ga, gb] = tf.grads((p: T, q: T) => tf.sum(tf.square(o.where(c, p, q))))([a, b]);
    return [o.where(c, a, b), ga, gb];
  });
});

test('reductions (with gradients), argMax, topk', async () => {
  for (const [name, f] of [['sum', o.sum], ['mean', o.mean], ['max', o.max], ['min', o.min]] as const) {
    await same(`${name} axis 1`, withGrad((x) => f(x, 1), X, [2, 3, 4]));
    await same(`${name} axes [0,2] keepDims`, withGrad((x) => f(x, [0, 2], true), X, [2, 3, 4]));
  }
  await same('argMax', () => [o.argMax(tf.tensor(X, [2, 3, 4]), 2), o.argMax(tf.tensor(X, [2, 3, 4]), 0)]);
  await same('topk', () => {
    const { values, indices } = o.topk(tf.tensor(X, [2, 3, 4]), 2);
    return [values, indices];
  });
});

test('cumsum on every axis, inclusive and exclusive, with gradients', async () => {
  for (const axis of [0, 1, 2]) {
    for (const exclusive of [false, true]) {
      await same(`cumsum axis ${axis} exclusive ${exclusive}`, withGrad((x) => o.cumsum(x, axis, exclusive), X, [2, 3, 4]));
    }
  }
});

test('shape ops (with gradients): reshape, transpose, expand/squeeze, concat, slice, gather, tile', async () => {
  await same('reshape', withGrad((x) => o.reshape(x, [4, 6]), X, [2, 3, 4]));
  await same('transpose', withGrad((x) => o.transpose(x, [2, 0, 1]), X, [2, 3, 4]));
  await same('transpose heads', withGrad((x) => o.transpose(x, [0, 2, 1, 3]), X, [2, 3, 2, 2]));
  await same('expandDims+squeeze', withGrad((x) => o.squeeze(o.expandDims(x, 1), [1]), X, [2, 3, 4]));
  await same('concat', withGrad((x) => o.concat([x, o.neg(x)], 1), X, [2, 3, 4]));
  await same('slice', withGrad((x) => o.slice(x, [0, 1, 1], [-1, 2, 2]), X, [2, 3, 4]));
  await same('gather axis 0', withGrad((x) => o.gather(x, tf.tensor([2, 0, 2, 1], [2, 2], 'int32'), 0), X, [3, 8]));
  await same('gather axis 1', withGrad((x) => o.gather(x, tf.tensor1d([2, 2, 0], 'int32'), 1), X, [2, 3, 4]));
  await same('tile', withGrad((x) => o.tile(x, [2, 1, 3]), X, [2, 3, 4]));
});

test('sources: range, constant, scalar, oneHot', async () => {
  await same('sources', () => [
    o.range(2, 7), o.constant([1, 2, 3, 4], [2, 2], 'int32'), o.constant(X.slice(0, 4), [4]),
    o.scalar(3), o.oneHot(tf.tensor([4, 0, 2, 9], [2, 2], 'int32'), 5),
  ], 0);
});

test('matMul through eagerOps: rank-3 x rank-2 (with gradients) and batched attention', async () => {
  const A = vals(2 * 5 * 4);
  const B = vals(4 * 3);
  await same('rank3 x rank2', () => {
    const a = tf.tensor(A, [2, 5, 4]);
    const b = tf.tensor(B, [4, 3]);
    const [ga, gb] = tf.grads((p: T, q: T) => tf.sum(tf.sin(o.matMul(p, q))))([a, b]);
    return [o.matMul(a, b), ga, gb];
  });
  await same('rank3 x rank2 transposeB', () => [o.matMul(tf.tensor(A, [2, 5, 4]), tf.tensor(A12, [3, 4]), false, true)]);
  await same('attention scores', () => {
    const q = tf.tensor(Q, [2, 8, 4]);
    const k = tf.tensor(K, [2, 8, 4]);
    const [gq, gk] = tf.grads((p: T, r: T) => tf.sum(tf.square(o.softmax(o.matMul(p, r, false, true)))))([q, k]);
    return [o.matMul(q, k, false, true), gq, gk];
  });
});

test.run();
