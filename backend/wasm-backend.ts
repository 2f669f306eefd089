/**
 * The parts of @tensorflow/tfjs-backend-wasm's `BackendWasm` (4.22.0) our kernels use,
 * typed structurally so the package's internals stay out of our public types.
 *
 * Rule (measured, docs/BACKENDS.md): anything that may allocate on the
 * wasm heap (`makeOutput`, `_malloc`, calling another kernel, an XNNPACK operator
 * creation) can grow the heap and detach earlier typed-array views: take views with
 * `heapF32` / `heapI32` only after the last allocation.
 */
import { tf } from '../core/tf.js';

export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: string;
  refCount: number;
}

export interface WasmModule {
  HEAPU8: Uint8Array;
  HEAPF32: Float32Array;
  HEAP32: Int32Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  /** tfjs C++ BatchMatMul(a_id, a_shape*, a_rank, b_id, b_shape*, b_rank, transpose_a, transpose_b, out_id). */
  _BatchMatMul(aId: number, aShape: number, aRank: number, bId: number, bShape: number, bRank: number, ta: number, tb: number, outId: number): void;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

export interface WasmBackend {
  wasm: WasmModule;
  dataIdNextNumber: number;
  dataIdMap: { get(dataId: object): WasmTensorData };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export function asWasmBackend(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** Byte offset of a tensor's data on the wasm heap. */
export function offsetOf(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Float32 view of a tensor's data (take it after the last allocation). */
export function heapF32(backend: WasmBackend, t: tf.TensorInfo): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(backend.wasm.HEAPU8.buffer, offsetOf(backend, t), n);
}

/** Int32 view of a tensor's data (take it after the last allocation). */
export function heapI32(backend: WasmBackend, t: tf.TensorInfo): Int32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  return new Int32Array(backend.wasm.HEAPU8.buffer, offsetOf(backend, t), n);
}

/**
 * Registers `size` floats at heap byte offset `offset` as a C++-side tensor id without
 * copying (a view into an existing buffer). Release with `releaseView`: the C++
 * `dispose_data` only forgets the id (and XNNPACK operators cached on it); memory is
 * owned by the tensor the view points into.
 */
export function makeView(backend: WasmBackend, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

export function releaseView(backend: WasmBackend, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}

/** The wasm backend instance if it is already initialised (never triggers initialisation). */
export function initialisedWasmBackend(): WasmBackend | undefined {
  const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
  const b = registry['wasm'];
  return b === undefined ? undefined : asWasmBackend(b);
}

/**
 * Replaces the registered wasm kernel `kernelName` by `kernelFunc`, keeping the stock kernel's
 * setupFunc (our kernels call into the stock C++ entry points it binds), and returns the stock
 * kernel. If the wasm backend is already initialised, the setup runs on it now (tfjs runs
 * setupFuncs only when a backend initialises).
 */
export function overrideWasmKernel(kernelName: string, kernelFunc: tf.KernelFunc, initialised: WasmBackend | undefined): tf.KernelConfig {
  const original = tf.getKernel(kernelName, 'wasm');
  if (original === undefined) throw new Error(`wasm ${kernelName} kernel is not registered: import @tensorflow/tfjs-backend-wasm first`);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', setupFunc: original.setupFunc, kernelFunc });
  if (initialised !== undefined && original.setupFunc) original.setupFunc(initialised as unknown as tf.KernelBackend);
  return original;
}
