import { tf } from '../core/tf.js';
import type { Dim, DType, Ops, TopK } from './ops.js';

type T = tf.Tensor;

function toNumberDims(dims: Dim<T>[]): number[] {
  return dims.map((d) => (typeof d === 'number' ? d : (d.dataSync()[0] as number)));
}

/**
 * Eager implementation of `Ops`: thin wrappers over tfjs. Gradients flow through
 * every op that tfjs can differentiate; workarounds for tfjs gradient bugs live here
 * so model code never has to know about them.
 */
export const eagerOps: Ops<T> = {
  kind: 'eager',

  weight: (_name, value) => value,
  scalar: (value, dtype = 'float32') => tf.scalar(value, dtype),
  constant: (values, shape, dtype = 'float32') =>
    tf.tensor(Array.from(values as ArrayLike<number>), shape, dtype),
  range: (start, end) => tf.range(toNumberDims([start])[0], toNumberDims([end])[0], 1, 'int32'),

  shape: (x) => x.shape.slice(),
  rank: (x) => x.rank,
  dtype: (x) => x.dtype as DType,
  reshape: (x, shape) => tf.reshape(x, toNumberDims(shape)),
  transpose: (x, perm) => tf.transpose(x, perm),
  expandDims: (x, axis) => tf.expandDims(x, axis),
  squeeze: (x, axes) => tf.squeeze(x, axes),
  concat: (xs, axis) => (xs.length === 1 ? xs[0] : tf.concat(xs, axis)),
  slice: (x, begin, size) => tf.slice(x, toNumberDims(begin), toNumberDims(size)),
  gather: (x, indices, axis = 0) => tf.gather(x, indices, axis),
  tile: (x, reps) => tf.tile(x, toNumberDims(reps)),
  dimMul: (a, b) => toNumberDims([a])[0] * toNumberDims([b])[0],
  dimAdd: (a, b) => toNumberDims([a])[0] + toNumberDims([b])[0],

  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b) => tf.mul(a, b),
  div: (a, b) => tf.div(a, b),
  maximum: (a, b) => tf.maximum(a, b),
  minimum: (a, b) => tf.minimum(a, b),
  pow: (a, b) => tf.pow(a, b),
  neg: (x) => tf.neg(x),
  abs: (x) => tf.abs(x),
  exp: (x) => tf.exp(x),
  log: (x) => tf.log(x),
  sqrt: (x) => tf.sqrt(x),
  rsqrt: (x) => tf.rsqrt(x),
  square: (x) => tf.square(x),
  tanh: (x) => tf.tanh(x),
  erf: (x) => tf.erf(x),
  relu: (x) => tf.relu(x),
  sigmoid: (x) => tf.sigmoid(x),
  sin: (x) => tf.sin(x),
  cos: (x) => tf.cos(x),
  floor: (x) => tf.floor(x),
  ceil: (x) => tf.ceil(x),
  cast: (x, dtype) => tf.cast(x, dtype),

  equal: (a, b) => tf.equal(a, b),
  notEqual: (a, b) => tf.notEqual(a, b),
  less: (a, b) => tf.less(a, b),
  lessEqual: (a, b) => tf.lessEqual(a, b),
  greater: (a, b) => tf.greater(a, b),
  greaterEqual: (a, b) => tf.greaterEqual(a, b),
  logicalAnd: (a, b) => tf.logicalAnd(a, b),
  logicalOr: (a, b) => tf.logicalOr(a, b),
  logicalNot: (x) => tf.logicalNot(x),
  where: (cond, a, b) => tf.where(cond, a, b),

  sum: (x, axis, keepDims = false) => tf.sum(x, axis, keepDims),
  mean: (x, axis, keepDims = false) => tf.mean(x, axis, keepDims),
  max: (x, axis, keepDims = false) => tf.max(x, axis, keepDims),
  min: (x, axis, keepDims = false) => tf.min(x, axis, keepDims),
  argMax: (x, axis) => tf.argMax(x, axis),
  // tfjs: cumsum's gradient is only right for the last axis given as a positive number.
  cumsum: (x, axis, exclusive = false) => {
    const last = x.rank - 1;
    if (axis === last) return tf.cumsum(x, last, exclusive);
    const perm = [...Array(x.rank).keys()];
    perm[axis] = last;
    perm[last] = axis;
    return tf.transpose(tf.cumsum(tf.transpose(x, perm), last, exclusive), perm);
  },
  topk: (x, k): TopK<T> => {
    const { values, indices } = tf.topk(x, k);
    return { values, indices };
  },

  // tfjs: a rank-3 x rank-2 matMul has a broken gradient; fold the batch into rows.
  matMul: (a, b, transposeA = false, transposeB = false) => {
    if (a.rank > 2 && b.rank === 2 && !transposeA) {
      const lead = a.shape.slice(0, -1);
      const a2 = tf.reshape(a, [-1, a.shape[a.rank - 1]]);
      const out = tf.matMul(a2, b, false, transposeB);
      return tf.reshape(out, [...lead, out.shape[1] as number]);
    }
    return tf.matMul(a, b, transposeA, transposeB);
  },
  softmax: (x) => tf.softmax(x),
  logSoftmax: (x) => tf.logSoftmax(x),
  // wasm's float OneHot is broken (int bit patterns); int32 then cast is right everywhere.
  oneHot: (indices, depth) => tf.cast(tf.oneHot(tf.cast(indices, 'int32'), depth, 1, 0, 'int32'), 'float32'),
};
