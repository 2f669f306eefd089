/**
 * safetensors writer. Layout as HF's `safetensors.serialize`: 8-byte LE header length,
 * JSON header padded with spaces to a multiple of 8 (so the data section is aligned),
 * tensors packed back to back in the order given. Written atomically (convert/atomic.ts).
 */
import { PolyglotError } from '../core/errors.js';
import { writeAll, writeFileAtomic } from './atomic.js';
import { dtypeByteSize, encodeTensorData, isSafetensorsDType, type SafetensorsDType, type WritableData } from './dtypes.js';

export interface TensorToWrite {
  name: string;
  /** Target dtype in the file; float data is rounded to F16/BF16 with round-to-nearest-even. */
  dtype: SafetensorsDType;
  shape: number[];
  /** The elements, or a function producing them when the tensor is written (one tensor resident at a time). */
  data: WritableData | (() => WritableData);
}

/** Element count of a shape, checked. */
export function shapeSize(shape: number[], where: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new PolyglotError(`${where}: shape must be non-negative integers, found ${JSON.stringify(shape)}`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new PolyglotError(`${where}: shape ${JSON.stringify(shape)} is too large`);
  return n;
}

/** Builds the padded header bytes; `__metadata__` first, as HF does. */
export function safetensorsHeader(tensors: { name: string; dtype: SafetensorsDType; shape: number[] }[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = shapeSize(t.shape, `tensor "${t.name}"`) * dtypeByteSize(t.dtype);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const len = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (len % 8)) % 8);
  return Buffer.from(json, 'utf8');
}

function checkLength(where: string, shape: number[], n: number, data: WritableData): void {
  if (data.length !== n) throw new PolyglotError(`${where}: shape ${JSON.stringify(shape)} needs ${n} elements, data has ${data.length}`);
}

/** Writes `tensors` to `path` atomically (temp file + fsync + rename). */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const seen = new Set<string>();
  for (const t of tensors) {
    const where = `${path}: tensor "${t.name}"`;
    if (t.name === '__metadata__' || t.name.length === 0) throw new PolyglotError(`${where}: reserved or empty tensor name`);
    if (seen.has(t.name)) throw new PolyglotError(`${where}: given twice`);
    seen.add(t.name);
    if (!isSafetensorsDType(t.dtype)) throw new PolyglotError(`${where}: unknown dtype ${JSON.stringify(t.dtype)}`);
    const n = shapeSize(t.shape, where);
    if (typeof t.data !== 'function') checkLength(where, t.shape, n, t.data);
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new PolyglotError(`${path}: __metadata__ value for "${k}" must be a string, found ${typeof v}`);
    }
  }
  const header = safetensorsHeader(tensors, metadata);
  writeFileAtomic(path, (fd) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length), 0);
    writeAll(fd, len);
    writeAll(fd, header);
    // One tensor encoded at a time: peak extra memory is the largest tensor, not the file.
    for (const t of tensors) {
      const where = `${path}: tensor "${t.name}"`;
      const data = typeof t.data === 'function' ? t.data() : t.data;
      checkLength(where, t.shape, shapeSize(t.shape, where), data);
      writeAll(fd, encodeTensorData(t.dtype, data, where));
    }
  });
}
