/**
 * Fused multi-head attention for decode-sized steps, computed by the native addon
 * (native/src/attention*.cc) as a wasm-backend kernel, in place on the wasm heap:
 * softmax(clamp(q kᵀ · scale + mask, finfo.min)) v for every batch row and head in one call,
 * output [B, Tq, d] (the out projection's layout). Keys/values live in a buffer
 * [B, heads, capacity, head_dim] whose first `length` rows are in use; with `keyNew`/`valueNew`
 * ([B, Tq, d], the projections' layout) the kernel first writes them at rows
 * [length, length + Tq) of that buffer: appending to the cache copies only the new rows.
 * The buffer is written in place, so it must be the caller's alone (`ownsData`).
 * Inference only: no gradient (layers/attention.ts uses it only when none is recorded).
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, offsetOf } from './wasm-backend.js';
import { nativeAddon, type NativeAddon } from './native.js';

export const NATIVE_ATTENTION_KERNEL = 'PolyglotAttention';

type AttentionFn = NativeAddon['attention'];

export interface NativeAttentionInput {
  /** [B, Tq, d] float32, not yet scaled. */
  q: tf.Tensor;
  /** [B, heads, capacity, head_dim] float32 buffers; rows [0, length) are the cache. */
  key: tf.Tensor;
  value: tf.Tensor;
  /** [B, Tq, d]: written at rows [length, length + Tq), then attended to as well. */
  keyNew?: tf.Tensor;
  valueNew?: tf.Tensor;
  /** Additive float32 mask [1|B, 1|heads, 1|Tq, keys] (keys = length (+ Tq with new rows)). */
  mask?: tf.Tensor;
  length: number;
  numHeads: number;
  scale: number;
}

// POLYGLOT_NATIVE_ATTENTION=0 keeps the tfjs ops (the native matmuls still run).
let enabled = process.env.POLYGLOT_NATIVE_ATTENTION !== '0';
let registered = false;

/** Tests and benchmarks compare the fused path with the tfjs ops it replaces in one process. */
export function setNativeAttentionEnabled(on: boolean): void {
  enabled = on;
}

/** Fused attention calls so far (tests check the native path really ran). */
export let nativeAttentionCalls = 0;

/** The addon's entry point; checked because an addon built before it lacks it. */
function attentionFn(): AttentionFn | undefined {
  const addon = nativeAddon();
  return typeof addon?.attention === 'function' ? addon.attention.bind(addon) : undefined;
}

/** The fused kernel can run now: addon loaded (with the kernel), wasm backend active, not switched off. */
export function nativeAttentionAvailable(): boolean {
  return enabled && tf.getBackend() === 'wasm' && attentionFn() !== undefined;
}

/** True while tfjs records operations for a gradient (the fused kernel has none). */
export function gradientsRecorded(): boolean {
  const engine = tf.engine() as unknown as { state: { gradientDepth: number } };
  return engine.state.gradientDepth > 0;
}

/** True when no other tensor shares `t`'s data (reshape/identity share it): writing into it in place is safe. */
export function ownsData(t: tf.Tensor): boolean {
  const backend = asWasmBackend(tf.backend());
  return backend.dataIdMap.get(t.dataId).refCount === 1;
}

/** Whether `mask` has a shape the kernel broadcasts: [1|B, 1|heads, 1|Tq, keys] float32. */
export function maskFits(mask: tf.Tensor, batch: number, heads: number, tq: number, keys: number): boolean {
  const s = mask.shape;
  return mask.dtype === 'float32' && s.length === 4 && (s[0] === 1 || s[0] === batch) && (s[1] === 1 || s[1] === heads) && (s[2] === 1 || s[2] === tq) && s[3] === keys;
}

/**
 * Why key/value buffers and mask do not fit an attention over [B, Tq, d] queries with `keys` keys
 * (key/value [B, heads, capacity, d / heads], equal shapes; mask as `maskFits`), or undefined.
 * Shared by the attention kernel and the whole-block kernel (native-decode-block.ts).
 */
export function attentionOperandsError(b: number, tq: number, d: number, numHeads: number, keys: number, key: tf.TensorInfo | undefined, value: tf.TensorInfo | undefined, mask: tf.TensorInfo | undefined): string | undefined {
  if (key === undefined || value === undefined || key.shape.length !== 4 || key.shape.join() !== value.shape.join() || key.shape[0] !== b || key.shape[1] !== numHeads || numHeads * key.shape[3]! !== d) {
    return `expected key/value [${b}, ${numHeads}, capacity, ${d / numHeads}], found [${key?.shape ?? ''}] and [${value?.shape ?? ''}]`;
  }
  if (mask !== undefined && !maskFits(mask as tf.Tensor, b, numHeads, tq, keys)) return `mask [${mask.shape}] does not broadcast to [${b}, ${numHeads}, ${tq}, ${keys}]`;
  return undefined;
}

/** The attention output [B, Tq, d]; writes keyNew/valueNew into key/value in place. */
export function nativeAttention(input: NativeAttentionInput): tf.Tensor {
  register();
  const inputs: tf.NamedTensorMap = { q: input.q, key: input.key, value: input.value };
  if (input.keyNew !== undefined && input.valueNew !== undefined) {
    inputs.keyNew = input.keyNew;
    inputs.valueNew = input.valueNew;
  }
  if (input.mask !== undefined) inputs.mask = input.mask;
  const attrs = { numHeads: input.numHeads, length: input.length, scale: input.scale } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(NATIVE_ATTENTION_KERNEL, inputs, attrs) as tf.Tensor;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function kernel(args: KernelArgs): tf.TensorInfo {
  const fn = attentionFn();
  if (fn === undefined) throw new Error(`${NATIVE_ATTENTION_KERNEL}: the native addon has no attention kernel (rebuild with npm run build:native)`);
  const backend = asWasmBackend(args.backend);
  const { q, key, value, keyNew, valueNew, mask } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const { numHeads, length, scale } = args.attrs as unknown as { numHeads: number; length: number; scale: number };
  const [b, tq, d] = q!.shape;
  const [, , cap, hd] = key!.shape;
  for (const t of [q, key, value, keyNew, valueNew, mask]) {
    if (t !== undefined && t.dtype !== 'float32') throw new Error(`${NATIVE_ATTENTION_KERNEL}: expected float32 inputs, found ${t.dtype}`);
  }
  if (q!.shape.length !== 3) throw new Error(`${NATIVE_ATTENTION_KERNEL}: expected q [B, Tq, d], found [${q!.shape}]`);
  const keys = length + (keyNew !== undefined ? tq : 0);
  const wrong = attentionOperandsError(b, tq, d, numHeads, keys, key, value, mask);
  if (wrong !== undefined) throw new Error(`${NATIVE_ATTENTION_KERNEL}: ${wrong}`);
  // The output first: allocation may move the heap (docs/BACKENDS.md).
  const out = backend.makeOutput([b, tq, d], 'float32');
  const at = (t: tf.TensorInfo | undefined) => (t === undefined ? -1 : offsetOf(backend, t) / 4);
  const offsets = Float64Array.of(at(q), at(keyNew), at(valueNew), at(key), at(value), at(mask), at(out));
  const m = mask?.shape ?? [1, 1, 1];
  const dims = Float64Array.of(b, tq, numHeads, hd, length, cap, m[0], m[1], m[2]);
  nativeAttentionCalls++;
  fn(backend.wasm.HEAPU8.buffer as ArrayBuffer, offsets, dims, scale);
  return out;
}

function register(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: NATIVE_ATTENTION_KERNEL, backendName: 'wasm', kernelFunc: kernel as unknown as tf.KernelFunc });
}
