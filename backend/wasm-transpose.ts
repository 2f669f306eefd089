/**
 * Swap of the last two axes of a float32 tensor on the wasm heap, for the matmul
 * rewrites. The stock wasm `Transpose` walks the output with a stride of a whole row,
 * which thrashes the cache on large matrices (measured: 45 ns/float for a 64000x1024
 * embedding, 30 ns/float for 2048x512, on a loaded 2-core machine); a 32x32-tiled
 * copy in JS over heap views was 3-5x faster there. Small matrices (which stay in
 * cache) keep the stock kernel, which is faster for them.
 */
import { tf } from '../core/tf.js';
import { offsetOf, type WasmBackend } from './wasm-backend.js';

/** Below this many floats per matrix the stock kernel is used. */
export const TILED_TRANSPOSE_MIN = 1 << 16;
const TILE = 32;

/** [batch, rows, cols] -> [batch, cols, rows]; `x` may have any shape of that size. */
export function transposeLast2(
  backend: WasmBackend,
  stockTranspose: tf.KernelFunc,
  x: tf.TensorInfo,
  batch: number,
  rows: number,
  cols: number,
): tf.TensorInfo {
  if (rows * cols < TILED_TRANSPOSE_MIN || rows === 1 || cols === 1) {
    const shape = batch === 1 ? [rows, cols] : [batch, rows, cols];
    const perm = batch === 1 ? [1, 0] : [0, 2, 1];
    return stockTranspose({
      inputs: { x: { dataId: x.dataId, shape, dtype: x.dtype } },
      backend: backend as unknown as tf.KernelBackend,
      attrs: { perm },
    }) as tf.TensorInfo;
  }
  const out = backend.makeOutput(batch === 1 ? [cols, rows] : [batch, cols, rows], 'float32');
  // Views after the allocation (the heap may have moved).
  const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
  const src0 = offsetOf(backend, x) >> 2;
  const dst0 = offsetOf(backend, out) >> 2;
  const size = rows * cols;
  for (let b = 0; b < batch; b++) {
    const sb = src0 + b * size;
    const db = dst0 + b * size;
    for (let i0 = 0; i0 < rows; i0 += TILE) {
      const i1 = Math.min(i0 + TILE, rows);
      for (let j0 = 0; j0 < cols; j0 += TILE) {
        const j1 = Math.min(j0 + TILE, cols);
        for (let i = i0; i < i1; i++) {
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
  return out;
}
