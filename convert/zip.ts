/**
 * A minimal, validating ZIP reader for torch's zip checkpoints (`torch.save` since 1.6
 * writes a ZIP of stored entries: `<archive>/data.pkl`, `<archive>/data/<key>`, ...).
 * Reads the central directory (ZIP64 included), supports stored and deflated entries,
 * and checks every size and offset against the file before allocating or reading.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';
import { PolyglotError } from '../core/errors.js';
import { openRegularFile } from './model-file.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

/** u64 as a safe JS number, or a PolyglotError. */
function u64(buf: Buffer, at: number, what: string, file: string): number {
  const v = buf.readBigUInt64LE(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PolyglotError(`${file}: zip ${what} ${v} is out of range`);
  return Number(v);
}

let crcTable: Uint32Array | undefined;
/** CRC-32 (zip polynomial); node's zlib.crc32 where available. */
export function crc32(data: Uint8Array): number {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(data) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export class ZipArchive {
  readonly path: string;
  readonly size: number;
  private readonly entries: Map<string, ZipEntry>;
  /** End of the entry data region (start of the central directory). */
  private readonly dataEnd: number;

  private constructor(path: string, size: number, entries: Map<string, ZipEntry>, dataEnd: number) {
    this.path = path;
    this.size = size;
    this.entries = entries;
    this.dataEnd = dataEnd;
  }

  static open(path: string): ZipArchive {
    const { fd } = openRegularFile(path);
    try {
      return ZipArchive.read(path, fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  private static read(file: string, fd: number): ZipArchive {
    const size = fs.fstatSync(fd).size;
    const bad = (what: string): PolyglotError => new PolyglotError(`${file}: not a valid zip archive: ${what}`);
    if (size < 22) throw bad(`${size} bytes, too short for an end-of-central-directory record`);
    // The EOCD record is the last 22 bytes plus an optional comment of up to 65535 bytes.
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = readAt(fd, size - tailLen, tailLen, file);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD && i + 22 + tail.readUInt16LE(i + 20) === tailLen) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw bad('no end-of-central-directory record');
    const eocdAbs = size - tailLen + eocd;
    let total = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    let cdLimit = eocdAbs;
    if (total === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      // ZIP64: the locator sits just before the EOCD and points at the ZIP64 EOCD record.
      if (eocdAbs < 20) throw bad('ZIP64 fields without a ZIP64 locator');
      const loc = readAt(fd, eocdAbs - 20, 20, file);
      if (loc.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) throw bad('ZIP64 fields without a ZIP64 locator');
      const z64 = u64(loc, 8, 'ZIP64 record offset', file);
      if (z64 + 56 > eocdAbs - 20) throw bad(`ZIP64 record offset ${z64} is outside the file`);
      const rec = readAt(fd, z64, 56, file);
      if (rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw bad('bad ZIP64 end-of-central-directory signature');
      total = u64(rec, 32, 'entry count', file);
      cdSize = u64(rec, 40, 'central directory size', file);
      cdOffset = u64(rec, 48, 'central directory offset', file);
      cdLimit = z64;
    }
    if (cdOffset + cdSize > cdLimit) throw bad(`central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end record at ${cdLimit}`);
    // Each central header is at least 46 bytes: bound the count before trusting it.
    if (total * 46 > cdSize) throw bad(`${total} entries cannot fit in a ${cdSize}-byte central directory`);
    const cd = readAt(fd, cdOffset, cdSize, file);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < total; i++) {
      if (p + 46 > cdSize || cd.readUInt32LE(p) !== SIG_CENTRAL) throw bad(`central directory entry ${i} is malformed`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let uncompressed = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localOffset = cd.readUInt32LE(p + 42);
      const next = p + 46 + nameLen + extraLen + commentLen;
      if (next > cdSize) throw bad(`central directory entry ${i} runs past the directory`);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // ZIP64 extended information: the 0xFFFFFFFF fields, in this order.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (e + 4 + len > extraEnd) throw bad(`entry "${name}" has a malformed extra field`);
        if (id === 0x0001) {
          let q = e + 4;
          const take = (what: string): number => {
            if (q + 8 > e + 4 + len) throw bad(`entry "${name}" has a short ZIP64 extra field`);
            const v = u64(cd, q, what, file);
            q += 8;
            return v;
          };
          if (uncompressed === 0xffffffff) uncompressed = take('size');
          if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
          if (localOffset === 0xffffffff) localOffset = take('local header offset');
        }
        e += 4 + len;
      }
      if (flags & 1) throw bad(`entry "${name}" is encrypted`);
      if (method !== 0 && method !== 8) throw bad(`entry "${name}" uses compression method ${method} (only stored and deflate are supported)`);
      if (method === 0 && compressedSize !== uncompressed) throw bad(`stored entry "${name}" has size ${uncompressed} but ${compressedSize} stored bytes`);
      if (localOffset + 30 + compressedSize > cdOffset) throw bad(`entry "${name}" data [${localOffset}, +${compressedSize}) overlaps the central directory at ${cdOffset}`);
      if (entries.has(name)) throw bad(`entry "${name}" appears twice`);
      entries.set(name, { name, method, compressedSize, size: uncompressed, crc32: crc, localHeaderOffset: localOffset });
      p = next;
    }
    return new ZipArchive(file, size, entries, cdOffset);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  entry(name: string): ZipEntry | undefined {
    return this.entries.get(name);
  }

  /**
   * Bytes [begin, end) of one entry. A stored entry's slice is read straight from the file (the
   * CRC covers the whole entry, so it is checked only when the slice is the whole entry); a
   * deflated entry is inflated whole (callers bound its declared size first).
   */
  readRange(name: string, begin: number, end: number): Buffer {
    const en = this.entries.get(name);
    if (!en) throw new PolyglotError(`${this.path}: zip archive has no entry "${name}"`);
    if (!(0 <= begin && begin <= end && end <= en.size)) throw new PolyglotError(`${this.path}: entry "${name}": range [${begin}, ${end}) is outside its ${en.size} bytes`);
    if (en.method !== 0 || (begin === 0 && end === en.size)) return this.read(name).subarray(begin, end);
    const { fd } = openRegularFile(this.path);
    try {
      return readAt(fd, this.dataStart(fd, en) + begin, end - begin, this.path);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Where an entry's data begins (after its local header), checked against the central directory. */
  private dataStart(fd: number, en: ZipEntry): number {
    const local = readAt(fd, en.localHeaderOffset, 30, this.path);
    if (local.readUInt32LE(0) !== SIG_LOCAL) throw new PolyglotError(`${this.path}: entry "${en.name}": bad local header signature at ${en.localHeaderOffset}`);
    const start = en.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    if (start + en.compressedSize > this.dataEnd) {
      throw new PolyglotError(`${this.path}: entry "${en.name}": data [${start}, ${start + en.compressedSize}) runs into the central directory at ${this.dataEnd}`);
    }
    return start;
  }

  /** The uncompressed bytes of one entry, size- and CRC-checked. */
  read(name: string): Buffer {
    const en = this.entries.get(name);
    if (!en) throw new PolyglotError(`${this.path}: zip archive has no entry "${name}"`);
    if (en.size > bufferConstants.MAX_LENGTH) throw new PolyglotError(`${this.path}: entry "${name}" is ${en.size} bytes, more than this Node.js can hold in one buffer`);
    const { fd } = openRegularFile(this.path);
    let raw: Buffer;
    try {
      raw = readAt(fd, this.dataStart(fd, en), en.compressedSize, this.path);
    } finally {
      fs.closeSync(fd);
    }
    let out = raw;
    if (en.method === 8) {
      try {
        // maxOutputLength bounds memory by the declared size, whatever the stream claims.
        out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, en.size) });
      } catch (e) {
        throw new PolyglotError(`${this.path}: entry "${name}": cannot inflate to its declared ${en.size} bytes (${(e as Error).message})`);
      }
      if (out.length !== en.size) throw new PolyglotError(`${this.path}: entry "${name}": inflated to ${out.length} bytes, expected ${en.size}`);
    }
    const crc = crc32(out);
    if (crc !== en.crc32) throw new PolyglotError(`${this.path}: entry "${name}": CRC-32 ${hex(crc)} does not match the recorded ${hex(en.crc32)} (corrupt file)`);
    return out;
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}

/** Reads exactly `len` bytes at `pos` (callers have checked the range against the file size). */
function readAt(fd: number, pos: number, len: number, file: string): Buffer {
  const buf = Buffer.alloc(len);
  let done = 0;
  while (done < len) {
    const got = fs.readSync(fd, buf, done, len - done, pos + done);
    if (got <= 0) throw new PolyglotError(`${file}: truncated: expected ${len} bytes at offset ${pos}, the file ends first`);
    done += got;
  }
  return buf;
}
