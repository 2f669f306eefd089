/** Element types of safetensors / torch storages and their conversion to tfjs-friendly arrays. */
import { bf16BitsOfFloat32Bits, halfBitsOfFloat32Bits, halfToFloat } from '../core/half.js';
import { PolyglotError } from '../core/errors.js';

export { halfToFloat };

export const SAFETENSORS_DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'U16', 'U32', 'U64'] as const;
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

const BYTES: Record<SafetensorsDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8,
};

export function isSafetensorsDType(s: string): s is SafetensorsDType {
  return (SAFETENSORS_DTYPES as readonly string[]).includes(s);
}

export function dtypeByteSize(d: SafetensorsDType): number {
  return BYTES[d];
}

export function isFloatDType(d: SafetensorsDType): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decodes little-endian bytes. Floats become Float32Array (F16/BF16 upcast exactly,
 * F64 rounded), I64/U64 become BigInt64Array, other integers and BOOL Int32Array.
 */
export function decodeToFloat32(dtype: SafetensorsDType, bytes: Uint8Array): Float32Array | Int32Array | BigInt64Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / BYTES[dtype];
  if (!Number.isInteger(n)) throw new PolyglotError(`byte length ${bytes.byteLength} is not a multiple of the ${dtype} size`);
  // Fast path: on little-endian hosts an aligned F32 / I32 / I64 payload is copied as is (memcpy).
  if (LITTLE_ENDIAN_HOST && bytes.byteOffset % BYTES[dtype] === 0) {
    if (dtype === 'F32') return new Float32Array(bytes.buffer, bytes.byteOffset, n).slice();
    if (dtype === 'I32') return new Int32Array(bytes.buffer, bytes.byteOffset, n).slice();
    if (dtype === 'I64') return new BigInt64Array(bytes.buffer, bytes.byteOffset, n).slice();
  }
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(n);
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = dv.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'I64':
    case 'U64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getBigInt64(i * 8, true);
      return out;
    }
    case 'I32':
    case 'U32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      return out;
    }
    case 'I16': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
      return out;
    }
    case 'U16': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getUint16(i * 2, true);
      return out;
    }
    case 'I8': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      return out;
    }
    case 'U8':
    case 'BOOL': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getUint8(i);
      return out;
    }
  }
}

// ---------------------------------------------------------------------------
// Encoding (float32 -> half / bfloat16 with round-to-nearest-even, as torch's
// `.to(torch.float16)` / `.to(torch.bfloat16)` do).

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float -> IEEE half bits, round-to-nearest-even; overflow gives +-Infinity, NaN stays NaN. */
export function floatToHalfBits(v: number): number {
  f32Scratch[0] = v;
  return halfBitsOfFloat32Bits(u32Scratch[0]);
}

/** float -> bfloat16 bits, round-to-nearest-even (NaN kept quiet). */
export function floatToBf16Bits(v: number): number {
  f32Scratch[0] = v;
  return bf16BitsOfFloat32Bits(u32Scratch[0]);
}

/** Data accepted by the writers; its element type must suit the target dtype. */
export type WritableData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | number[];

/**
 * Encodes `data` as little-endian `dtype` bytes. Floats may come from any numeric array;
 * integer dtypes need integral values in range. `where` names the tensor in errors.
 */
export function encodeTensorData(dtype: SafetensorsDType, data: WritableData, where: string): Uint8Array {
  const n = data.length;
  if (dtype === 'I8' && data instanceof Int8Array) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + n));
  const out = new Uint8Array(n * BYTES[dtype]);
  const dv = new DataView(out.buffer);
  const num = (i: number): number => {
    const v = data[i];
    return typeof v === 'bigint' ? Number(v) : v;
  };
  const int = (i: number, lo: number, hi: number): number => {
    const v = num(i);
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new PolyglotError(`${where}: element ${i} is ${v}, not an integer in [${lo}, ${hi}] as ${dtype} needs`);
    }
    return v;
  };
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, num(i), true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) dv.setFloat64(i * 8, num(i), true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, floatToHalfBits(num(i)), true);
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, floatToBf16Bits(num(i)), true);
      break;
    case 'I64':
    case 'U64':
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (typeof v === 'bigint') dv.setBigInt64(i * 8, v, true);
        else dv.setBigInt64(i * 8, BigInt(int(i, dtype === 'I64' ? Number.MIN_SAFE_INTEGER : 0, Number.MAX_SAFE_INTEGER)), true);
      }
      break;
    case 'I32':
      for (let i = 0; i < n; i++) dv.setInt32(i * 4, int(i, -0x80000000, 0x7fffffff), true);
      break;
    case 'U32':
      for (let i = 0; i < n; i++) dv.setUint32(i * 4, int(i, 0, 0xffffffff), true);
      break;
    case 'I16':
      for (let i = 0; i < n; i++) dv.setInt16(i * 2, int(i, -0x8000, 0x7fff), true);
      break;
    case 'U16':
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, int(i, 0, 0xffff), true);
      break;
    case 'I8':
      for (let i = 0; i < n; i++) dv.setInt8(i, int(i, -128, 127));
      break;
    case 'U8':
      for (let i = 0; i < n; i++) dv.setUint8(i, int(i, 0, 255));
      break;
    case 'BOOL':
      for (let i = 0; i < n; i++) dv.setUint8(i, int(i, 0, 1));
      break;
  }
  return out;
}

/** The torch dtype names HF writes as config.json "torch_dtype". */
export type TorchFloatName = 'float32' | 'float16' | 'bfloat16';
export const TORCH_FLOAT_TO_SAFETENSORS: Record<TorchFloatName, SafetensorsDType> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
