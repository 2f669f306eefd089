/**
 * Swap of the last two axes of 4-byte tensors on the wasm heap, as a tiled copy in JS.
 * The stock 4.22.0 wasm `Transpose` writes the output with a stride of a whole row,
 * which thrashes the cache on large matrices. Measured (best of runs, shared 2-core
 * machine, including the read-back): 64000x1024 7.6 -> 3.7 ns/element, 1024x64000
 * 15.5 -> 4.0, 2048x512 8.0 -> 1.9, 512x512 4.9 -> 1.05 with 64x64 tiles copied four
 * source rows at a time (a plain 32x32 tiling was only 1.1-1.8x faster than stock). Below
 * about 128k elements the matrix stays in cache and the stock kernel is faster (300x257:
 * 0.47 vs 0.97 ns/element), so it keeps those, as it keeps every other permutation. Used by the matmul
 * rewrites and registered as the wasm `Transpose` kernel (large weight transposes at
 * load time, explicit transposes in model code). Copies through Int32 views so int32
 * data and NaN payloads are moved bit-exactly.
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, offsetOf, type WasmBackend, overrideWasmKernel } from './wasm-backend.js';

/** Below this many elements per matrix the stock kernel is used. */
export const TILED_TRANSPOSE_MIN = 1 << 17;
const TILE = 64;

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

let stock: tf.KernelConfig | undefined;
let overrideEnabled = true;
/** Benchmarks compare against the stock kernel by switching the tiled path off. */
export function setTransposeOverrideEnabled(enabled: boolean): void {
  overrideEnabled = enabled;
}

function stockTranspose(backend: WasmBackend, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return stock!.kernelFunc({ inputs: { x }, backend: backend as unknown as tf.KernelBackend, attrs: { perm } }) as tf.TensorInfo;
}

function tiledCopy(backend: WasmBackend, x: tf.TensorInfo, out: tf.TensorInfo, batch: number, rows: number, cols: number): void {
  // View after the output allocation (the heap may have moved).
  const heap = new Int32Array(backend.wasm.HEAPU8.buffer);
  // `>>> 2`, not `>> 2`: heap offsets above 2 GB (a 564M-parameter model's heap) are
  // beyond int32, and a signed shift would make them negative.
  const src0 = offsetOf(backend, x) >>> 2;
  const dst0 = offsetOf(backend, out) >>> 2;
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const sb = src0 + b * size;
    const db = dst0 + b * size;
    for (let i0 = 0; i0 < rows; i0 += TILE) {
      const i1 = Math.min(i0 + TILE, rows);
      for (let j0 = 0; j0 < cols; j0 += TILE) {
        const j1 = Math.min(j0 + TILE, cols);
        // Four source rows at a time: each output row gets 4 adjacent writes.
        let i = i0;
        for (; i + 3 < i1; i += 4) {
          let s = sb + i * cols + j0;
          let d = db + j0 * rows + i;
          for (let j = j0; j < j1; j++) {
            heap[d] = heap[s];
            heap[d + 1] = heap[s + cols];
            heap[d + 2] = heap[s + 2 * cols];
            heap[d + 3] = heap[s + 3 * cols];
            s++;
            d += rows;
          }
        }
        for (; i < i1; i++) {
          let s = sb + i * cols + j0;
          let d = db + j0 * rows + i;
          for (let j = j0; j < j1; j++) {
            heap[d] = heap[s++];
            d += rows;
          }
        }
      }
    }
  }
}

/** [batch, rows, cols] -> [batch, cols, rows] (shape [cols, rows] when batch is 1); x may have any shape of that size. */
export function transposeLast2(backend: WasmBackend, x: tf.TensorInfo, batch: number, rows: number, cols: number): tf.TensorInfo {
  if (rows * cols < TILED_TRANSPOSE_MIN || rows === 1 || cols === 1) {
    const shape = batch === 1 ? [rows, cols] : [batch, rows, cols];
    return stockTranspose(backend, { dataId: x.dataId, shape, dtype: x.dtype }, batch === 1 ? [1, 0] : [0, 2, 1]);
  }
  const out = backend.makeOutput(batch === 1 ? [cols, rows] : [batch, cols, rows], x.dtype);
  tiledCopy(backend, x, out, batch, rows, cols);
  return out;
}

/** The registered kernel: tiled path for large last-two-axes swaps, stock otherwise. */
function transpose(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const x = args.inputs['x'] as tf.TensorInfo;
  const perm = (args.attrs as { perm: number[] }).perm;
  const r = x.shape.length;
  const swapsLast2 = r >= 2 && perm[r - 2] === r - 1 && perm[r - 1] === r - 2 && perm.slice(0, r - 2).every((p, i) => p === i);
  const rows = x.shape[r - 2];
  const cols = x.shape[r - 1];
  if (!overrideEnabled || !swapsLast2 || (x.dtype !== 'float32' && x.dtype !== 'int32') || rows * cols < TILED_TRANSPOSE_MIN || rows === 1 || cols === 1) {
    return stockTranspose(backend, x, perm);
  }
  const outShape = perm.map((p) => x.shape[p]);
  const out = backend.makeOutput(outShape, x.dtype);
  tiledCopy(backend, x, out, x.shape.slice(0, r - 2).reduce((a, b) => a * b, 1), rows, cols);
  return out;
}

/** Registers the Transpose kernel above for wasm, keeping the stock one's setup. */
export function registerTransposeOverride(initialised: WasmBackend | undefined): void {
  if (stock !== undefined) return;
  stock = overrideWasmKernel(tf.Transpose, transpose as unknown as tf.KernelFunc, initialised);
}

/** Benchmarks: the stock kernel's function. */
export function stockTransposeKernel(): tf.KernelConfig | undefined {
  return stock;
}
