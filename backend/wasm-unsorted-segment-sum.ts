/**
 * `UnsortedSegmentSum` for wasm (absent from tfjs-backend-wasm 4.22.0). tfjs-core uses it
 * in the gradient of `tf.gather`, so without it no embedding can be trained on wasm.
 * Semantics mirror TF / the tfjs cpu kernel: `segmentIds` has the shape of a prefix
 * of `x`; out[s, ...] = sum of x[i, ...] over ids i with segmentIds[i] == s; ids outside
 * [0, numSegments) are dropped.
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, heapF32, heapI32 } from './wasm-backend.js';

function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const x = args.inputs['x'] as tf.TensorInfo;
  const ids = args.inputs['segmentIds'] as tf.TensorInfo;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum (wasm): x must be float32 or int32, found ${x.dtype}`);
  }
  const numIds = ids.shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < ids.shape.length; i++) {
    if (ids.shape[i] !== x.shape[i]) {
      throw new Error(`UnsortedSegmentSum (wasm): segmentIds shape [${ids.shape}] must be a prefix of x shape [${x.shape}]`);
    }
  }
  const innerShape = x.shape.slice(ids.shape.length);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views only after makeOutput: allocation may move the heap.
  const outV = x.dtype === 'float32' ? heapF32(backend, out) : heapI32(backend, out);
  const xV = x.dtype === 'float32' ? heapF32(backend, x) : heapI32(backend, x);
  const idV = ids.dtype === 'int32' ? heapI32(backend, ids) : Int32Array.from(heapF32(backend, ids));
  outV.fill(0);
  for (let i = 0; i < numIds; i++) {
    const s = idV[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) outV[dst + j] += xV[src + j];
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
