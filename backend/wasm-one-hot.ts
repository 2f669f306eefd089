/**
 * `OneHot` for wasm. The stock 4.22.0 kernel writes int32 values whatever the requested
 * dtype, so `tf.oneHot(i, n, 1, 0, 'float32')` reads back 1 as 1.4e-45 (measured). This
 * one writes the requested dtype; indices outside [0, depth) give an all-off row (TF).
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, heapF32, heapI32 } from './wasm-backend.js';

function oneHot(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const indices = args.inputs['indices'] as tf.TensorInfo;
  const { depth, onValue, offValue, dtype } = args.attrs as { depth: number; onValue: number; offValue: number; dtype: tf.DataType };
  const out = backend.makeOutput([...indices.shape, depth], dtype);
  const n = indices.shape.reduce((a, b) => a * b, 1);
  let outV: Float32Array | Int32Array | Uint8Array;
  if (dtype === 'float32') outV = heapF32(backend, out);
  else if (dtype === 'int32') outV = heapI32(backend, out);
  else if (dtype === 'bool') outV = backend.typedArrayFromHeap(out);
  else throw new Error(`OneHot (wasm): unsupported dtype ${dtype}`);
  const idx = indices.dtype === 'float32' ? heapF32(backend, indices) : heapI32(backend, indices);
  outV.fill(offValue);
  for (let i = 0; i < n; i++) {
    const k = idx[i];
    if (k >= 0 && k < depth && Number.isInteger(k)) outV[i * depth + k] = onValue;
  }
  return out;
}

export const oneHotConfig: tf.KernelConfig = {
  kernelName: tf.OneHot,
  backendName: 'wasm',
  kernelFunc: oneHot as unknown as tf.KernelFunc,
};
