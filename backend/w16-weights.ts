/**
 * 16-bit linear weights (`--weights bfloat16|float16`): IEEE float32 rounded to bfloat16 or
 * IEEE half (round to nearest even, as torch's `.to(dtype)`), kept as bit patterns in HF's
 * nn.Linear layout [out, in] (one output channel per row): what a bf16 / f16 checkpoint stores,
 * so its tensors are used as read. Pure math, no backend.
 */
import { bf16BitsOfFloat32Bits, halfBitsOfFloat32Bits, halfToFloat } from '../core/half.js';

export type W16Dtype = 'bfloat16' | 'float16';

export interface W16Quantized {
  /** [out, in] bit patterns. */
  bits: Uint16Array;
  dtype: W16Dtype;
  inFeatures: number;
  outFeatures: number;
}

/** The safetensors dtype storing `dtype` (BF16 / F16). */
export function w16StoredDtype(dtype: W16Dtype): 'BF16' | 'F16' {
  return dtype === 'bfloat16' ? 'BF16' : 'F16';
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

const bf16Of = bf16BitsOfFloat32Bits;
const f16Of = halfBitsOfFloat32Bits;

/** One 16-bit pattern back to float32 (exact). */
export function w16ToFloat(h: number, dtype: W16Dtype): number {
  if (dtype === 'bfloat16') {
    u32[0] = h << 16;
    return f32[0];
  }
  return halfToFloat(h);
}

/** Rounds float32 values to 16-bit patterns (same order). */
export function toW16Bits(values: Float32Array, dtype: W16Dtype): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  if (dtype === 'bfloat16') for (let i = 0; i < out.length; i++) out[i] = bf16Of(bits[i]);
  else for (let i = 0; i < out.length; i++) out[i] = f16Of(bits[i]);
  return out;
}

/** Rounds float32 values to 16 bits in place (each value becomes what a 16-bit checkpoint of it holds). */
export function roundTo16InPlace(values: Float32Array, dtype: W16Dtype): void {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  if (dtype === 'bfloat16') for (let i = 0; i < bits.length; i++) bits[i] = bf16Of(bits[i]) << 16;
  else for (let i = 0; i < values.length; i++) values[i] = w16ToFloat(f16Of(bits[i]), dtype);
}

/** float32 values rounded to 16 bits and widened back (what a 16-bit checkpoint of them holds). */
export function roundTo16(values: Float32Array, dtype: W16Dtype): Float32Array {
  const bits = toW16Bits(values, dtype);
  const out = new Float32Array(values.length);
  if (dtype === 'bfloat16') {
    const o = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) o[i] = bits[i] << 16;
  } else for (let i = 0; i < bits.length; i++) out[i] = w16ToFloat(bits[i], dtype);
  return out;
}

/** A weight stored [out, in] (HF layout, a checkpoint's tensor or an embedding table) rounded to 16 bits. */
export function w16FromRows(w: Float32Array, outFeatures: number, inFeatures: number, dtype: W16Dtype): W16Quantized {
  if (w.length !== inFeatures * outFeatures) throw new Error(`w16FromRows: expected ${outFeatures}x${inFeatures} values, found ${w.length}`);
  return { bits: toW16Bits(w, dtype), dtype, inFeatures, outFeatures };
}

/**
 * An embedding table [rows, d] as the 16-bit lookup copy int8 models keep (the int8 rows missed
 * the nllb-moe-tiny accuracy bound): float16, or bfloat16 when a value is past float16's range.
 */
export function w16LookupTable(table: Float32Array, rows: number, d: number): W16Quantized {
  let maxAbs = 0;
  for (const x of table) maxAbs = Math.max(maxAbs, Math.abs(x));
  return w16FromRows(table, rows, d, maxAbs <= 65504 ? 'float16' : 'bfloat16');
}

/** A Linear kernel stored [in, out] (our layout) rounded to 16 bits in [out, in]. */
export function w16FromKernel(w: Float32Array, inFeatures: number, outFeatures: number, dtype: W16Dtype): W16Quantized {
  if (w.length !== inFeatures * outFeatures) throw new Error(`w16FromKernel: expected ${inFeatures}x${outFeatures} values, found ${w.length}`);
  const raw = new Uint32Array(w.buffer, w.byteOffset, w.length);
  const out = new Uint16Array(w.length);
  const one = dtype === 'bfloat16' ? bf16Of : f16Of;
  for (let i = 0; i < inFeatures; i++) {
    const row = i * outFeatures;
    for (let j = 0; j < outFeatures; j++) out[j * inFeatures + i] = one(raw[row + j]);
  }
  return { bits: out, dtype, inFeatures, outFeatures };
}

/** Little-endian stored bytes (a BF16 / F16 checkpoint tensor [out, in]) as the weight, without rounding. */
export function w16FromStored(bytes: Uint8Array, outFeatures: number, inFeatures: number, dtype: W16Dtype): W16Quantized {
  if (bytes.byteLength !== 2 * inFeatures * outFeatures) throw new Error(`w16FromStored: expected ${2 * inFeatures * outFeatures} bytes, found ${bytes.byteLength}`);
  // An odd byte offset cannot be viewed as 16-bit values: copied then (little-endian hosts only, as everywhere).
  const bits = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2) : new Uint16Array(bytes.slice().buffer);
  return { bits, dtype, inFeatures, outFeatures };
}

/** Back to float32 in our kernel layout [in, out] (no-addon fallback, graph export). */
export function w16ToKernel(w: W16Quantized): Float32Array {
  const { bits, inFeatures: k, outFeatures: n, dtype } = w;
  const out = new Float32Array(k * n);
  if (dtype === 'bfloat16') {
    const o = new Uint32Array(out.buffer);
    for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) o[i * n + j] = bits[j * k + i] << 16;
  } else {
    for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) out[i * n + j] = w16ToFloat(bits[j * k + i], dtype);
  }
  return out;
}
