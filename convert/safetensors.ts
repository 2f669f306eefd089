/**
 * safetensors reader, strictly validated (format: 8-byte little-endian header length,
 * a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}},
 * then the data section). Tensors are read one at a time from the file, so a large
 * checkpoint never needs to be resident twice.
 */
import * as fs from 'node:fs';
import { PolyglotError } from '../core/errors.js';
import { openRegularFile } from './model-file.js';
import { checkJsonNesting } from './json-nesting.js';
import { decodeToFloat32, dtypeByteSize, isSafetensorsDType, type SafetensorsDType } from './dtypes.js';

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

/** A tensor read into memory: float dtypes upcast to Float32Array, integers to Int32Array (or BigInt64Array for I64/U64). */
export interface HostTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array;
}

/** Header sizes past this are not a real checkpoint (HF limits headers to 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  private readonly infos: Map<string, TensorInfo>;

  private constructor(path: string, infos: Map<string, TensorInfo>, metadata: Record<string, string>) {
    this.path = path;
    this.infos = infos;
    this.metadata = metadata;
  }

  /** Opens and validates the header (no tensor data is read). */
  static open(path: string): SafetensorsFile {
    const { fd, size: fileSize } = openRegularFile(path);
    try {
      if (fileSize < 8) throw new PolyglotError(`${path}: not a safetensors file: ${fileSize} bytes, expected at least the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      fs.readSync(fd, lenBuf, 0, 8, 0);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
        throw new PolyglotError(
          `${path}: safetensors header length ${headerLen} does not fit: the file has ${fileSize - 8} bytes after the length field (limit ${MAX_HEADER_BYTES})`,
        );
      }
      const n = Number(headerLen);
      const headerBuf = Buffer.alloc(n);
      fs.readSync(fd, headerBuf, 0, n, 8);
      const dataStart = 8 + n;
      const { infos, metadata } = parseHeader(path, headerBuf, dataStart, fileSize);
      return new SafetensorsFile(path, infos, metadata);
    } finally {
      fs.closeSync(fd);
    }
  }

  names(): string[] {
    return [...this.infos.keys()];
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.infos.get(name);
    if (!info) throw new PolyglotError(`${this.path}: no tensor named "${name}"`);
    return info;
  }

  /** Raw little-endian bytes of one tensor. */
  readBytes(name: string): Uint8Array {
    const info = this.info(name);
    const buf = Buffer.alloc(info.end - info.begin);
    const { fd } = openRegularFile(this.path);
    try {
      let done = 0;
      while (done < buf.length) {
        const got = fs.readSync(fd, buf, done, buf.length - done, info.begin + done);
        if (got <= 0) throw new PolyglotError(`${this.path}: tensor "${name}" is truncated`);
        done += got;
      }
    } finally {
      fs.closeSync(fd);
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  }

  /** Reads one tensor; F16/BF16/F64 become Float32Array, small ints Int32Array. */
  read(name: string): HostTensor {
    const info = this.info(name);
    return { dtype: info.dtype, shape: info.shape.slice(), data: decodeToFloat32(info.dtype, this.readBytes(name)) };
  }
}

function parseHeader(
  path: string,
  headerBuf: Buffer,
  dataStart: number,
  fileSize: number,
): { infos: Map<string, TensorInfo>; metadata: Record<string, string> } {
  let text: string;
  try {
    // The format requires a UTF-8 header (HF's safetensors rejects anything else).
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBuf);
  } catch {
    throw new PolyglotError(`${path}: safetensors header is not valid UTF-8`);
  }
  checkJsonNesting(text, `${path}: safetensors header`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new PolyglotError(`${path}: safetensors header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new PolyglotError(`${path}: safetensors header must be a JSON object`);
  }
  const infos = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const dataSize = fileSize - dataStart;
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        throw new PolyglotError(`${path}: __metadata__ must be an object of strings, found ${JSON.stringify(raw).slice(0, 80)}`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `${path}: tensor "${name}"`;
    if (typeof raw !== 'object' || raw === null) throw new PolyglotError(`${where}: header entry must be an object`);
    const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof entry.dtype !== 'string' || !isSafetensorsDType(entry.dtype)) {
      throw new PolyglotError(`${where}: unknown dtype ${JSON.stringify(entry.dtype)}`);
    }
    if (!Array.isArray(entry.shape) || !entry.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new PolyglotError(`${where}: shape must be a list of non-negative integers, found ${JSON.stringify(entry.shape)}`);
    }
    const offs = entry.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[0] > offs[1]) {
      throw new PolyglotError(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, found ${JSON.stringify(offs)}`);
    }
    const shape = entry.shape as number[];
    const [b, e] = offs as [number, number];
    const elements = shape.reduce((a, d) => a * d, 1);
    const expected = elements * dtypeByteSize(entry.dtype);
    if (!Number.isSafeInteger(expected)) {
      throw new PolyglotError(`${where}: shape ${JSON.stringify(shape)} is too large (${expected} bytes)`);
    }
    if (e - b !== expected) {
      throw new PolyglotError(
        `${where}: shape ${JSON.stringify(shape)} x ${entry.dtype} needs ${expected} bytes but data_offsets [${b}, ${e}] cover ${e - b}`,
      );
    }
    if (e > dataSize) {
      throw new PolyglotError(`${where}: data_offsets [${b}, ${e}] run past the end of the data section (${dataSize} bytes)`);
    }
    infos.set(name, { name, dtype: entry.dtype, shape, begin: dataStart + b, end: dataStart + e });
  }
  // Like HF's safetensors (`Metadata::validate`): the byte ranges, sorted, must tile the
  // data section exactly - no overlap (aliasing), no gap, no trailing bytes.
  const sorted = [...infos.values()].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let pos = dataStart;
  let prev: TensorInfo | undefined;
  for (const t of sorted) {
    if (t.begin < pos) {
      throw new PolyglotError(`${path}: tensors "${prev!.name}" and "${t.name}" overlap in the data section`);
    }
    if (t.begin > pos) {
      throw new PolyglotError(
        `${path}: data section bytes [${pos - dataStart}, ${t.begin - dataStart}) belong to no tensor (safetensors requires the tensors to tile the data section)`,
      );
    }
    pos = t.end;
    prev = t;
  }
  if (pos !== fileSize) {
    throw new PolyglotError(`${path}: ${fileSize - pos} trailing bytes after the last tensor (data section is ${dataSize} bytes, tensors cover ${pos - dataStart})`);
  }
  return { infos, metadata };
}
