/**
 * The optional native addon (native/, built by node-gyp at `npm install`; see README
 * "Native kernels"). Loading never throws: when the addon is absent (no compiler at
 * install time), fails to load, the CPU lacks AVX2+FMA, or POLYGLOT_NATIVE=0, the wasm
 * kernels run as before and `nativeStatus().line` says why in one line.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's exports (native/src/addon.cc). Offsets count floats from the heap start. */
export interface NativeAddon {
  /** Instruction set in use: 'avx512' | 'avx2' | 'none'. */
  isa(): string;
  /** Forces 'avx2' (or back to 'best') so tests cover both kernel sets; returns the one in use. */
  setIsa(name: 'avx2' | 'avx512' | 'best'): string;
  threads(): number;
  setThreads(n: number): number;
  matmul(
    heap: ArrayBuffer,
    abOffsets: Float64Array,
    cOffset: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
    biasOffset: number,
    biasLen: number,
    activation: number,
    alpha: number,
  ): void;
  /** Copies per-output-channel int8 weights ([n, k]) and scales ([n]) into native memory. */
  q8Weight(q: Int8Array, scale: Float32Array, k: number, n: number): NativeWeight;
  /** C[m, n] = A[m, k] · W (+ bias [n] at biasOffset, when >= 0), W dequantised in registers (offsets count floats). */
  q8Matmul(heap: ArrayBuffer, w: NativeWeight, aOffset: number, cOffset: number, m: number, biasOffset?: number): void;
  /** dX[m, k] = dY[m, n] · Wᵀ (the input gradient of an int8 linear). */
  q8MatmulT(heap: ArrayBuffer, w: NativeWeight, dyOffset: number, dxOffset: number, m: number): void;
  /** Copies an int8 weight back out (q [n*k], scale [n]). */
  q8Read(w: NativeWeight, q: Int8Array, scale: Float32Array): void;
  /**
   * int8 linear products: 'vnni' (activations quantized per row to int8, AVX-512 VNNI dot
   * products; POLYGLOT_INT8_ACTIVATIONS=1) or 'float' (weight-only, the default); no
   * argument: the mode in use. Returns the mode in use ('vnni' only where the CPU has it).
   */
  int8Mode(name?: 'vnni' | 'float'): string;
  /** Bytes of int8 weights held in native memory. */
  q8Bytes(): number;
  /** Best GB/s of `reps` read passes over a fresh `bytes` buffer with every pool thread (a STREAM-like probe). */
  streamProbe(bytes: number, reps: number): number;
  /** Copies 16-bit weights ([n, k] bit patterns; kind 0 bfloat16, 1 float16) into native memory. */
  w16Weight(bits: Uint16Array, k: number, n: number, kind: 0 | 1): NativeWeight;
  /** C[m, n] = A[m, k] · W, W widened to float32 in registers (offsets count floats). */
  w16Matmul(heap: ArrayBuffer, w: NativeWeight, aOffset: number, cOffset: number, m: number): void;
  /** dX[m, k] = dY[m, n] · Wᵀ (the input gradient of a 16-bit linear). */
  w16MatmulT(heap: ArrayBuffer, w: NativeWeight, dyOffset: number, dxOffset: number, m: number): void;
  /** Copies a 16-bit weight's bits back out ([n*k]). */
  w16Read(w: NativeWeight, bits: Uint16Array): void;
  /** Bytes of 16-bit weights held in native memory. */
  w16Bytes(): number;
  /**
   * bfloat16 weights: 'bf16dot' (activations rounded to bf16, AVX-512 BF16 vdpbf16ps;
   * POLYGLOT_BF16_ACTIVATIONS=1) or 'float' (float32 activations, the default); no argument:
   * the mode in use. Returns the mode in use ('bf16dot' only where the CPU has avx512_bf16).
   */
  w16Mode(name?: 'bf16dot' | 'float'): string;
  /**
   * One fused AdamW step (native/src/adamw.cc) on heap float offsets [p, g, m, v, outP, outM, outV]
   * over `count` parameters; scalars [gradScale, 1 - lr*wd, 1 - beta1, beta2, 1 - beta2,
   * sqrt(1 - beta2^t), eps, lr / (1 - beta1^t)].
   */
  adamwStep(heap: ArrayBuffer, offsets: Float64Array, count: number, scalars: Float64Array): void;
  /** out[i, :] = row ids[i] of a 16-bit weight [n, k], widened exactly, * multiplier (gather_rows.cc; idsOffset counts int32s, outOffset floats). */
  w16GatherRows(heap: ArrayBuffer, w: NativeWeight, idsOffset: number, count: number, outOffset: number, multiplier: number): void;
  /**
   * Fused attention (native/src/attention_napi.cc, backend/native-attention.ts): offsets (floats) of
   * [q, kNew, vNew, k, v, mask, out] (-1 = absent), dims [b, tq, heads, headDim, length, capacity,
   * maskBatch, maskHeads, maskQueries]; new keys/values are written into k/v in place.
   */
  attention(heap: ArrayBuffer, offsets: Float64Array, dims: Float64Array, scale: number): void;
  /** y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta over rows of d (biased variance; norm_napi.cc). */
  layerNorm(heap: ArrayBuffer, xOffset: number, gammaOffset: number, betaOffset: number, yOffset: number, rows: number, d: number, eps: number): void;
  /** dx [rows, d], dgamma [d], dbeta [d] of layerNorm from dy [rows, d]. */
  layerNormGrad(heap: ArrayBuffer, xOffset: number, gammaOffset: number, dyOffset: number, dxOffset: number, dgammaOffset: number, dbetaOffset: number, rows: number, d: number, eps: number): void;
  /** y = gelu(x) over n floats; kind 0 exact (erf), 1 tanh form with coefficient c. */
  gelu(heap: ArrayBuffer, xOffset: number, yOffset: number, n: number, kind: 0 | 1, c: number): void;
  /** dx = dy * gelu'(x) over n floats (kind, c as gelu). */
  geluGrad(heap: ArrayBuffer, xOffset: number, dyOffset: number, dxOffset: number, n: number, kind: 0 | 1, c: number): void;
  /**
   * One pre-norm residual sub-block of a decode step (native/src/decode_block.cc): weights[i] the
   * int8 / 16-bit handle of linear i or null (float32 kernel on the heap at offsets[9 + i]);
   * offsets and dims as documented there.
   */
  decodeBlock(heap: ArrayBuffer, weights: (NativeWeight | null)[], offsets: Float64Array, dims: Float64Array): void;
}

/** An opaque handle to int8 or 16-bit weights in native memory (freed when garbage collected). */
export type NativeWeight = object;

export interface NativeStatus {
  /** The addon is loaded and its kernels are used. */
  active: boolean;
  /** One line for the backend report, e.g. "native kernels: avx512, 2 threads". */
  line: string;
  addon?: NativeAddon;
}

/** The package root, from backend/ (sources) or dist/backend/ (built). */
function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, path.basename(path.dirname(here)) === 'dist' ? '../..' : '..');
}

export const NATIVE_ADDON_PATH = path.join(packageRoot(), 'native', 'build', 'Release', 'polyglot_native.node');

let status: NativeStatus | undefined;

function load(): NativeStatus {
  if (process.env.POLYGLOT_NATIVE === '0') return { active: false, line: 'native kernels: off (POLYGLOT_NATIVE=0)' };
  // The threaded wasm build's heap is a SharedArrayBuffer, which N-API cannot address
  // (napi_get_arraybuffer_info takes ArrayBuffers only): the addon's kernels cannot run on it.
  if (process.env.POLYGLOT_WASM_THREADS) return { active: false, line: `native kernels: off (POLYGLOT_WASM_THREADS=${process.env.POLYGLOT_WASM_THREADS}: the threaded wasm heap is shared memory, which N-API cannot address)` };
  if (!fs.existsSync(NATIVE_ADDON_PATH)) {
    return { active: false, line: 'native kernels: not built (no native/build; see native/build.log or run `npm run build:native`), using wasm kernels' };
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon;
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    return { active: false, line: `native kernels: failed to load (${why}), using wasm kernels` };
  }
  const isa = addon.isa();
  if (isa === 'none') return { active: false, line: 'native kernels: this CPU has neither AVX2+FMA nor AVX-512, using wasm kernels' };
  return { active: true, line: `native kernels: ${isa}, ${addon.threads()} threads`, addon };
}

/** Loads the addon once (later calls return the same answer). */
export function nativeStatus(): NativeStatus {
  status ??= load();
  if (status.active && status.addon !== undefined) {
    status.line = `native kernels: ${status.addon.isa()}, ${status.addon.threads()} threads`;
  }
  return status;
}

/** The loaded addon, or undefined when the native path is not active. */
export function nativeAddon(): NativeAddon | undefined {
  const s = nativeStatus();
  return s.active ? s.addon : undefined;
}
