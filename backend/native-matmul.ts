/**
 * `BatchMatMul` and `_FusedMatMul` for the wasm backend computed by the native addon
 * (AVX2 / AVX-512 FMA on all cores) in place on the wasm heap: the addon receives the
 * heap's ArrayBuffer (zero-copy through N-API) and float offsets of the operands, and
 * writes straight into the output tensor. Every transpose, batch and broadcast variant
 * runs natively (broadcasting as tfjs' cpu kernel: each output batch index maps to the
 * operands' batch indices axis by axis). What the addon does not cover (non-float32
 * inputs, prelu, a bias that is not per-column or scalar) goes to the kernel it replaces.
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, offsetOf, overrideWasmKernel, type WasmBackend } from './wasm-backend.js';
import type { NativeAddon } from './native.js';
import { forEachBatch, productShape } from './matmul-shapes.js';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Activation codes of native/src/gemm.h. */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, elu: 4, sigmoid: 5 };

let addon: NativeAddon | undefined;
let replacedMatMul: tf.KernelConfig | undefined;
let replacedFused: tf.KernelConfig | undefined;

/** Benchmarks switch the native path off and on in one process. */
let enabled = true;
export function setNativeMatMulEnabled(on: boolean): void {
  enabled = on;
}

function size(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

interface Product {
  m: number;
  n: number;
  k: number;
  outShape: number[];
  /** Per output batch: A's and B's float offsets. */
  abOffsets: Float64Array;
}

/** Shapes and broadcast batch offsets of op(a)·op(b) (a, b of rank >= 2). */
function plan(backend: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo, ta: boolean, tb: boolean): Product {
  const s = productShape(a, b, ta, tb);
  const { m, n, k } = s;
  const aBase = offsetOf(backend, a) / 4;
  const bBase = offsetOf(backend, b) / 4;
  const abOffsets = new Float64Array(2 * size(s.outer));
  forEachBatch(s, (i, ia, ib) => {
    abOffsets[2 * i] = aBase + ia * m * k;
    abOffsets[2 * i + 1] = bBase + ib * k * n;
  });
  return { m, n, k, outShape: [...s.outer, m, n], abOffsets };
}

/** Products computed by the addon so far (tests check the native path really ran). */
export let nativeMatMulCalls = 0;

function run(
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  ta: boolean,
  tb: boolean,
  bias: tf.TensorInfo | undefined,
  activation: number,
  alpha: number,
): tf.TensorInfo {
  const p = plan(backend, a, b, ta, tb);
  const out = backend.makeOutput(p.outShape, 'float32');
  // Offsets are taken after makeOutput (tensor offsets never move), and the heap buffer
  // after it too: growing the heap replaces the ArrayBuffer.
  const biasOffset = bias === undefined ? -1 : offsetOf(backend, bias) / 4;
  const biasLen = bias === undefined ? 1 : size(bias.shape);
  nativeMatMulCalls++;
  addon!.matmul(backend.wasm.HEAPU8.buffer as ArrayBuffer, p.abOffsets, offsetOf(backend, out) / 4, p.m, p.n, p.k, ta, tb, biasOffset, biasLen, activation, alpha);
  return out;
}

function usable(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  return enabled && a.dtype === 'float32' && b.dtype === 'float32' && a.shape.length >= 2 && b.shape.length >= 2;
}

function batchMatMul(args: KernelArgs): tf.TensorInfo {
  const a = args.inputs['a'] as tf.TensorInfo;
  const b = args.inputs['b'] as tf.TensorInfo;
  if (!usable(a, b)) return replacedMatMul!.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  return run(asWasmBackend(args.backend), a, b, transposeA, transposeB, undefined, 0, 0);
}

function fusedMatMul(args: KernelArgs): tf.TensorInfo {
  const a = args.inputs['a'] as tf.TensorInfo;
  const b = args.inputs['b'] as tf.TensorInfo;
  const bias = args.inputs['bias'] as tf.TensorInfo | undefined;
  const prelu = args.inputs['preluActivationWeights'] as tf.TensorInfo | undefined;
  const attrs = args.attrs as { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };
  const act = ACTIVATIONS[attrs.activation ?? 'linear'];
  const ta = attrs.transposeA;
  const tb = attrs.transposeB;
  const n = tb ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
  // A bias the addon adds: one value, or one per output column (any leading 1-axes).
  const biasOk =
    bias == null ||
    (bias.dtype === 'float32' && (size(bias.shape) === 1 || (size(bias.shape) === n && bias.shape[bias.shape.length - 1] === n)));
  if (!usable(a, b) || prelu != null || act === undefined || !biasOk) {
    return replacedFused!.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  return run(asWasmBackend(args.backend), a, b, ta, tb, bias ?? undefined, act, attrs.leakyreluAlpha ?? 0);
}

/**
 * Registers the two kernels for wasm on top of whatever is registered now (our JS
 * BatchMatMul override, the stock fused kernel), which stay as the fallback.
 */
export function registerNativeMatMul(native: NativeAddon, initialised: WasmBackend | undefined): void {
  if (addon !== undefined) return;
  addon = native;
  replacedMatMul = overrideWasmKernel(tf.BatchMatMul, batchMatMul as unknown as tf.KernelFunc, initialised);
  replacedFused = overrideWasmKernel(tf._FusedMatMul, fusedMatMul as unknown as tf.KernelFunc, initialised);
}
