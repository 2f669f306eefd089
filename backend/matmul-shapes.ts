/**
 * Shapes of a batched product op(a)·op(b) as tfjs defines them (last two axes are the
 * matrices, leading axes broadcast), shared by the JS and native BatchMatMul kernels.
 */
import { tf } from '../core/tf.js';

export interface ProductShape {
  m: number;
  n: number;
  k: number;
  outerA: number[];
  outerB: number[];
  /** Broadcast batch shape of the output. */
  outer: number[];
}

/** Throws tfjs' own message when the inner sizes differ. */
export function productShape(a: tf.TensorInfo, b: tf.TensorInfo, ta: boolean, tb: boolean): ProductShape {
  const ar = a.shape.length;
  const br = b.shape.length;
  const k = ta ? a.shape[ar - 2] : a.shape[ar - 1];
  const kb = tb ? b.shape[br - 1] : b.shape[br - 2];
  const m = ta ? a.shape[ar - 1] : a.shape[ar - 2];
  const n = tb ? b.shape[br - 2] : b.shape[br - 1];
  if (k !== kb) {
    throw new Error(`Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${ta} and transposeB=${tb} must match.`);
  }
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  return { m, n, k, outerA, outerB, outer: tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB) };
}

/**
 * Calls fn(i, ia, ib) for every output batch index i with the batch indices of A and B it
 * reads (axis by axis; a size-1 axis broadcasts). Right for any broadcast, unlike the
 * `i mod batch` rule of tfjs' cpu kernel.
 */
export function forEachBatch(s: ProductShape, fn: (i: number, ia: number, ib: number) => void): void {
  const rank = s.outer.length;
  const padA = [...Array<number>(rank - s.outerA.length).fill(1), ...s.outerA];
  const padB = [...Array<number>(rank - s.outerB.length).fill(1), ...s.outerB];
  const nb = s.outer.reduce((x, y) => x * y, 1);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < nb; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < rank; d++) {
      ia = ia * padA[d] + (padA[d] === 1 ? 0 : idx[d]);
      ib = ib * padB[d] + (padB[d] === 1 ? 0 : idx[d]);
    }
    fn(i, ia, ib);
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < s.outer[d]) break;
      idx[d] = 0;
    }
  }
}
