/**
 * Weight quantization as tfjs-converter declares it in a weights manifest entry
 * (`quantization: {dtype: 'float16'}` or `{dtype: 'uint8', min, scale}`); the stock
 * loader (tf.io.decodeWeights) dequantizes: value = q * scale + min, or float16 -> float32.
 */
import { PolyglotError } from '../core/errors.js';

export type QuantizeMode = 'none' | 'float16' | 'uint8';
export const QUANTIZE_MODES: QuantizeMode[] = ['none', 'float16', 'uint8'];

export interface Quantized {
  bytes: Uint8Array;
  quantization?: { dtype: 'float16' } | { dtype: 'uint8'; min: number; scale: number };
}

export function parseQuantizeMode(value: string, source = '--quantize'): QuantizeMode {
  if ((QUANTIZE_MODES as string[]).includes(value)) return value as QuantizeMode;
  throw new PolyglotError(`${source}: expected one of ${QUANTIZE_MODES.join(', ')}, found ${JSON.stringify(value)}`);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE float32 -> float16 bits, round to nearest even; overflow -> inf, NaN kept. */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let bits = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (bits & 1))) bits++; // may carry into the exponent: still right
  return sign | bits;
}

/**
 * Affine uint8 range as tfjs-converter computes it: when the range covers 0 the zero
 * point is nudged to an integer so 0 stays exactly representable (masks, zero biases).
 */
export function uint8Range(data: Float32Array): { min: number; scale: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return { min: Number.isFinite(lo) ? lo : 0, scale: 1 };
  const scale = (hi - lo) / 255;
  if (lo <= 0 && hi >= 0) return { min: -Math.round(-lo / scale) * scale, scale };
  return { min: lo, scale };
}

export function quantizeFloat32(data: Float32Array, mode: QuantizeMode): Quantized {
  if (mode === 'none') return { bytes: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
  if (mode === 'float16') {
    const out = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = toFloat16Bits(data[i]);
    return { bytes: new Uint8Array(out.buffer), quantization: { dtype: 'float16' } };
  }
  const { min, scale } = uint8Range(data);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.min(255, Math.max(0, Math.round((data[i] - min) / scale)));
  return { bytes: out, quantization: { dtype: 'uint8', min, scale } };
}
