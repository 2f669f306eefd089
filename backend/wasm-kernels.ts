/**
 * Kernels registered for the wasm backend from user code: the ones tfjs-backend-wasm
 * 4.22.0 lacks or gets wrong, and a faster BatchMatMul dispatch.
 *  - UnsortedSegmentSum: missing; needed by the gradient of tf.gather (embeddings).
 *  - OneHot: the stock kernel returns int32 bit patterns for float32 output.
 *  - BatchMatMul: transposed/batched operands routed to XNNPACK (wasm-batch-matmul.ts).
 *  - Transpose: large last-two-axes swaps as a tiled copy (stock one thrashes the cache).
 *  - Cumsum: negative axes normalised (stock one reads out of bounds).
 *  - _FusedMatMul: a bias with a transpose or a batch (stock result is wrong).
 *  - BatchMatMul and _FusedMatMul by the native addon when it is built and loads
 *    (native-matmul.ts; the JS BatchMatMul above stays as its fallback).
 * Call after importing @tensorflow/tfjs-backend-wasm; idempotent.
 */
import { tf } from '../core/tf.js';
import { initialisedWasmBackend } from './wasm-backend.js';
import { unsortedSegmentSumConfig } from './wasm-unsorted-segment-sum.js';
import { oneHotConfig } from './wasm-one-hot.js';
import { registerBatchMatMulOverride } from './wasm-batch-matmul.js';
import { registerTransposeOverride } from './wasm-transpose.js';
import { registerCumsumFix } from './wasm-cumsum.js';
import { registerFusedMatMulFix } from './wasm-fused-matmul.js';
import { nativeAddon } from './native.js';
import { registerNativeMatMul } from './native-matmul.js';

let registered = false;

function replace(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName) !== undefined) {
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}

export function registerWasmKernels(): void {
  if (registered) return;
  replace(unsortedSegmentSumConfig);
  replace(oneHotConfig);
  const initialised = initialisedWasmBackend();
  registerTransposeOverride(initialised);
  registerBatchMatMulOverride(initialised);
  registerCumsumFix(initialised);
  registerFusedMatMulFix(initialised);
  const native = nativeAddon();
  if (native !== undefined) registerNativeMatMul(native, initialised);
  registered = true;
}
