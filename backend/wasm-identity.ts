/**
 * `Identity` for wasm without a copy. The stock 4.22.0 kernel copies the whole buffer, and
 * tfjs calls Identity (`engine.clone`) for every input a kernel saves for backprop while a
 * gradient tape records: under `tf.variableGrads` each weight a matmul or gather reads was
 * copied, e.g. a frozen 256k x 1024 embedding table (1 GB) for its lookup, so a LoRA step on
 * XGLM-564M ran out of the 4 GiB heap. Sharing the data is what the cpu kernel and the wasm
 * `Reshape` kernel do: no kernel writes into its inputs, tf.Variable assignment replaces the
 * data id instead of writing in place, and the backend frees a buffer when its last reference
 * goes (refCount).
 */
import { tf } from '../core/tf.js';
import { asWasmBackend } from './wasm-backend.js';

function identity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = args.inputs['x'] as tf.TensorInfo;
  asWasmBackend(args.backend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identity as unknown as tf.KernelFunc,
};
