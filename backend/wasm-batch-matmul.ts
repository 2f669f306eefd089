/**
 * A `BatchMatMul` for wasm that reaches XNNPACK's fast GEMM far more often.
 *
 * The stock 4.22.0 kernel runs XNNPACK (about 20 GFLOP/s here) only for a
 * non-transposed product with batch 1 on both sides; everything else (every backprop
 * product, attention) falls into a plain C++ loop near 2 GFLOP/s. This override keeps
 * the stock kernel's `setupFunc` and calls the same C++ entry point, but first
 * rewrites the product into fast non-transposed 2-D GEMMs:
 *  - transposes are made explicit (wasm-transpose.ts), choosing per shape the cheaper
 *    rewrite by floats moved and packed: e.g. A·Bᵀ either as A·(Bᵀ) or as (B·Aᵀ)ᵀ (the
 *    latter never touches B's layout, which is what a tied lm_head with a few rows and
 *    a 256k-row embedding needs), Aᵀ·Bᵀ as (B·A)ᵀ or Aᵀ·(Bᵀ);
 *  - a batched A times an unbatched B folds A's batch into rows (one GEMM);
 *  - a genuinely batched product (attention) runs one XNNPACK GEMM per batch entry on
 *    zero-copy views of the operands when that beats the stock loop (`batchedPlan`).
 * The C++ kernel caches the packed XNNPACK weights on B's tensor id, so whenever B is
 * a whole tensor we pass its real id (repeated products with one weight pack it once).
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, makeView, offsetOf, releaseView, type WasmBackend, overrideWasmKernel } from './wasm-backend.js';
import { transposeLast2 } from './wasm-transpose.js';
import { forEachBatch, productShape } from './matmul-shapes.js';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

let stock: tf.KernelConfig | undefined;
/** 6 int32 on the heap: the [1, rows, cols] shapes of A and B for the C++ call. */
let shapeBuf = 0;
let shapeBufOwner: WasmBackend | undefined;

/** Which strategy runs; tests and benches read and force it. */
export type MatMulPath = 'stock' | 'gemm' | 'gemm-swap' | 'batched-gemm' | 'batched-loop';
export let lastMatMulPath: MatMulPath = 'stock';

/** Forces the batched strategy ('auto' = measured rule) for benchmarks and tests. */
export let batchedStrategy: 'auto' | 'gemm' | 'loop' = 'auto';
export function setBatchedStrategy(s: 'auto' | 'gemm' | 'loop'): void {
  batchedStrategy = s;
}

let overrideEnabled = true;
/** Benchmarks compare against the stock kernel by switching the override off. */
export function setMatMulOverrideEnabled(enabled: boolean): void {
  overrideEnabled = enabled;
}

function size(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function ensureShapeBuf(backend: WasmBackend): number {
  if (shapeBufOwner !== backend) {
    // `>>> 0`: malloc returns a signed int32, negative for addresses above 2 GB.
    shapeBuf = backend.wasm._malloc(24) >>> 0;
    shapeBufOwner = backend;
  }
  return shapeBuf;
}

/**
 * out[M,N] = a[M,K]·b[K,N] (row-major, no transposes) through the C++ kernel's XNNPACK
 * path. Ids are C++ tensor ids (a whole tensor's or a view's); sizes must match them.
 */
function gemmIds(backend: WasmBackend, aId: number, bId: number, outId: number, m: number, k: number, n: number): void {
  const buf = ensureShapeBuf(backend);
  const h = backend.wasm.HEAP32;
  const p = buf >>> 2;
  h[p] = 1; h[p + 1] = m; h[p + 2] = k;
  h[p + 3] = 1; h[p + 4] = k; h[p + 5] = n;
  backend.wasm._BatchMatMul(aId, buf, 3, bId, buf + 12, 3, 0, 0, outId);
}

function idOf(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).id;
}

/** Swaps the last two axes of x viewed as [batch, rows, cols]. */
function swapLast2(backend: WasmBackend, x: tf.TensorInfo, batch: number, rows: number, cols: number): tf.TensorInfo {
  return transposeLast2(backend, x, batch, rows, cols);
}

function dispose(backend: WasmBackend, t: tf.TensorInfo): void {
  backend.disposeData(t.dataId);
}

function as(t: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/**
 * Relative cost per float of XNNPACK weight packing vs a transpose, to choose between
 * rewrites. The C++ kernel caches packed weights per weights tensor id, so a weights
 * operand made by a rewrite is packed on every call: measured about 2 ns per weight
 * (fresh vs cached weights, 8-row products), a transpose 2.5-3.5 ns per element.
 */
const PACK_COST = 1;

/** Plain 2-D product [M,N] of op(a)·op(b), a as [M,K] or [K,M], b as [K,N] or [N,K]. */
function gemm2d(backend: WasmBackend, a: tf.TensorInfo, ta: boolean, b: tf.TensorInfo, tb: boolean, m: number, k: number, n: number): tf.TensorInfo {
  if (!ta && !tb) {
    const out = backend.makeOutput([m, n], 'float32');
    gemmIds(backend, idOf(backend, a), idOf(backend, b), idOf(backend, out), m, k, n);
    lastMatMulPath = 'gemm';
    return out;
  }
  // Each case either makes the transposed operands explicit, or computes
  // Cᵀ = op(B)ᵀ·op(A)ᵀ (B in the row slot, A as the packed weights) and transposes Cᵀ.
  // Costs in floats moved: a transpose 1, a packing PACK_COST.
  const P = PACK_COST;
  let swap: boolean;
  if (ta && !tb) {
    // explicit: Aᵀ (MK) + pack B (KN); swap: Bᵀ (KN) + pack A (KM) + Cᵀ (MN)
    swap = k * n + P * k * m + m * n < m * k + P * k * n;
  } else if (!ta && tb) {
    // explicit: Bᵀ and its packing ((1+P)NK); swap: Aᵀ and its packing ((1+P)MK) + Cᵀ (MN).
    // The swap is what makes a tied lm_head (few rows x 256k-row embedding) cheap.
    swap = (1 + P) * m * k + m * n < (1 + P) * n * k;
  } else {
    // explicit: Aᵀ (MK) + Bᵀ and its packing ((1+P)NK); swap: pack A (KM) + Cᵀ (MN)
    swap = P * k * m + m * n < m * k + (1 + P) * n * k;
  }
  if (swap) {
    // Cᵀ[N,M] = op(B)ᵀ[N,K] · op(A)ᵀ[K,M]
    const bRows = tb ? b : swapLast2(backend, b, 1, k, n);
    const aW = ta ? a : swapLast2(backend, a, 1, m, k);
    const ct = gemm2d(backend, as(bRows, [n, k]), false, as(aW, [k, m]), false, n, k, m);
    if (bRows !== b) dispose(backend, bRows);
    if (aW !== a) dispose(backend, aW);
    const out = swapLast2(backend, ct, 1, n, m);
    dispose(backend, ct);
    lastMatMulPath = 'gemm-swap';
    return out;
  }
  const aRows = ta ? swapLast2(backend, a, 1, k, m) : a;
  const bW = tb ? swapLast2(backend, b, 1, n, k) : b;
  const out = gemm2d(backend, aRows, false, bW, false, m, k, n);
  if (aRows !== a) dispose(backend, aRows);
  if (bW !== b) dispose(backend, bW);
  return out;
}

/**
 * Per-shape choice for a genuinely batched product (per-entry sizes m, k, n): one
 * XNNPACK GEMM per entry vs the stock loop. Measured (`bench/run.ts matmul --sweep`,
 * and the attention rows of the default run): a per-entry GEMM pays operator creation,
 * weight packing and deletion, about 50-70 us for 64x128 weights (2-5 us with a cached
 * operator); the loop runs near 1-3 GFLOP/s. GEMMs win from about 6 rows per entry
 * (m = 8: 1.4-4.7x faster, m = 128: 7-8x, 24-27 vs 3 GFLOP/s); the loop wins for decode
 * steps (m = 1: 3.1 vs 0.35-0.9 GFLOP/s).
 */
export function batchedPlan(m: number, k: number, n: number): 'gemm' | 'loop' {
  if (batchedStrategy !== 'auto') return batchedStrategy;
  return m >= 6 && m * k * n >= 4096 ? 'gemm' : 'loop';
}

function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(args.backend);
  const a = args.inputs['a'] as tf.TensorInfo;
  const b = args.inputs['b'] as tf.TensorInfo;
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (!overrideEnabled || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) {
    lastMatMulPath = 'stock';
    return stock!.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const shape = productShape(a, b, transposeA, transposeB);
  const { m, n, k, outerA, outerB } = shape;
  const outOuter = shape.outer;
  const outShape = [...outOuter, m, n];
  const batchA = size(outerA);
  const batchB = size(outerB);

  if (size(outShape) === 0 || k === 0) {
    lastMatMulPath = 'stock';
    return stock!.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }

  if (batchB === 1) {
    // Fold A's batch into rows: [batchA·M, K]·[K, N] is one GEMM.
    let a2 = a;
    let ta = transposeA;
    let owned: tf.TensorInfo | undefined;
    if (batchA > 1 && transposeA) {
      owned = swapLast2(backend, a, batchA, k, m);
      a2 = owned;
      ta = false;
    }
    const out = gemm2d(backend, a2, ta, b, transposeB, batchA * m, k, n);
    if (owned) dispose(backend, owned);
    out.shape = outShape;
    return out;
  }

  // The stock loop maps output batch i to batch i mod batchA / i mod batchB (as the cpu
  // kernel does): right for equal batch shapes or a batch of 1 on one side, wrong for
  // multi-axis broadcasts such as [2,1]x[1,3] (measured), which take per-entry GEMMs.
  const sameBatch = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if ((sameBatch || batchA === 1) && batchedPlan(m, k, n) === 'loop') {
    lastMatMulPath = 'batched-loop';
    return stock!.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }

  // Batched: explicit transposes once for the whole tensors, then one GEMM per entry on views.
  const owned: tf.TensorInfo[] = [];
  let aN = a;
  let bN = b;
  if (transposeA) {
    aN = swapLast2(backend, a, batchA, k, m);
    owned.push(aN);
  }
  if (transposeB) {
    bN = swapLast2(backend, b, batchB, n, k);
    owned.push(bN);
  }
  const nb = size(outOuter);
  const out = backend.makeOutput([nb, m, n], 'float32');
  const aOff = offsetOf(backend, aN);
  const bOff = offsetOf(backend, bN);
  const oOff = offsetOf(backend, out);
  // Broadcasting: map each output batch index to A's and B's batch index.
  forEachBatch(shape, (i, ia, ib) => {
    const aId = makeView(backend, aOff + ia * m * k * 4, m * k);
    const bId = makeView(backend, bOff + ib * k * n * 4, k * n);
    const oId = makeView(backend, oOff + i * m * n * 4, m * n);
    gemmIds(backend, aId, bId, oId, m, k, n);
    releaseView(backend, aId);
    releaseView(backend, bId); // also frees the XNNPACK operator cached on this view id
    releaseView(backend, oId);
  });
  for (const t of owned) dispose(backend, t);
  lastMatMulPath = 'batched-gemm';
  out.shape = outShape;
  return out;
}

/**
 * Replaces the registered wasm BatchMatMul with the dispatcher above. Call after the
 * wasm package is imported and after `registerTransposeOverride` (used for its
 * transposes); if the wasm backend is already initialised, `setup` is run on it here
 * (tfjs runs setupFuncs only when a backend initialises).
 */
export function registerBatchMatMulOverride(initialised: WasmBackend | undefined): void {
  if (stock !== undefined) return;
  stock = overrideWasmKernel(tf.BatchMatMul, batchMatMul as unknown as tf.KernelFunc, initialised);
}

/** The stock kernel, for benchmarks comparing against it. */
export function stockBatchMatMulKernel(): tf.KernelConfig | undefined {
  return stock;
}
