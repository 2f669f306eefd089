/**
 * Test helper (not a test): builds torch.save-style zip checkpoints byte by byte, with the
 * opcodes torch emits (protocol 2: GLOBAL, BINPERSID, REDUCE, ...; or protocol 4 with
 * STACK_GLOBAL / MEMOIZE / FRAME), and hand-written malicious pickles. The generated files
 * were cross-checked once with python3's zipfile + pickletools.
 */
import * as zlib from 'node:zlib';

export class PickleBuilder {
  private readonly parts: Buffer[] = [];
  raw(...bytes: number[]): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  ascii(op: string, text = ''): this {
    this.parts.push(Buffer.from(op + text, 'latin1'));
    return this;
  }
  proto(v: number): this {
    return this.raw(0x80, v);
  }
  global(module: string, name: string): this {
    return this.ascii('c', `${module}\n${name}\n`);
  }
  stackGlobal(module: string, name: string): this {
    return this.shortStr(module).shortStr(name).raw(0x93);
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    this.parts.push(Buffer.from('X'), len, b);
    return this;
  }
  shortStr(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.parts.push(Buffer.from([0x8c, b.length]), b);
    return this;
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      const b = Buffer.alloc(4);
      b.writeInt32LE(n);
      this.parts.push(Buffer.from('J'), b);
      return this;
    }
    // LONG1 with 8 bytes two's complement
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt(n));
    this.parts.push(Buffer.from([0x8a, 8]), b);
    return this;
  }
  mark(): this {
    return this.ascii('(');
  }
  tuple(): this {
    return this.ascii('t');
  }
  intTuple(xs: number[]): this {
    if (xs.length === 0) return this.ascii(')');
    this.mark();
    xs.forEach((x) => this.int(x));
    return this.tuple();
  }
  stop(): Buffer {
    this.ascii('.');
    return Buffer.concat(this.parts);
  }
}

export interface FakeTensor {
  name: string;
  storageType: string;
  key: string;
  /** Elements of the storage. */
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** The pickle torch.save writes for a state dict of tensors (protocol 2, or 4 with STACK_GLOBAL/MEMOIZE/FRAME). */
export function stateDictPickle(tensors: FakeTensor[], opts: { protocol4?: boolean; asParameter?: boolean; withMetadata?: boolean } = {}): Buffer {
  const p = new PickleBuilder();
  const g = (m: string, n: string): PickleBuilder => (opts.protocol4 ? p.stackGlobal(m, n).raw(0x94) : p.global(m, n));
  const s = (x: string): PickleBuilder => (opts.protocol4 ? p.shortStr(x).raw(0x94) : p.str(x));
  p.proto(opts.protocol4 ? 4 : 2);
  if (opts.protocol4) p.raw(0x95, 0, 0, 0, 0, 0, 0, 0, 0); // FRAME (length ignored by readers)
  g('collections', 'OrderedDict');
  p.ascii(')').ascii('R'); // OrderedDict()
  p.mark();
  for (const t of tensors) {
    s(t.name);
    if (opts.asParameter) g('torch._utils', '_rebuild_parameter').mark();
    g('torch._utils', '_rebuild_tensor_v2');
    p.mark();
    p.mark();
    s('storage');
    g('torch', t.storageType);
    s(t.key);
    s('cpu');
    p.int(t.numel);
    p.tuple();
    p.ascii('Q'); // BINPERSID
    p.int(t.offset);
    p.intTuple(t.shape);
    p.intTuple(t.stride);
    p.raw(0x89); // requires_grad False
    g('collections', 'OrderedDict');
    p.ascii(')').ascii('R');
    p.tuple();
    p.ascii('R');
    if (opts.asParameter) {
      p.raw(0x89);
      g('collections', 'OrderedDict');
      p.ascii(')').ascii('R');
      p.tuple().ascii('R');
    }
  }
  p.ascii('u'); // SETITEMS
  if (opts.withMetadata) {
    // state_dict._metadata, set through BUILD as torch's OrderedDict pickling does.
    p.ascii('}').str('_metadata').ascii('}').str('').ascii('}').str('version').int(1).ascii('s').ascii('s').ascii('s').ascii('b');
  }
  return p.stop();
}

export interface ZipItem {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    c ^= data[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A zip archive; with `zip64` every size / offset in the central directory and the end record
 * is the 0xFFFFFFFF sentinel, the real values living in ZIP64 extra fields and the ZIP64 end
 * record + locator (what writers do past 4 GB, forced here on a small file).
 */
export function makeZip(items: ZipItem[], opts: { zip64?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const it of items) {
    const name = Buffer.from(it.name, 'utf8');
    const body = it.deflate ? zlib.deflateRawSync(it.data) : Buffer.from(it.data);
    const crc = crc32(it.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(it.deflate ? 8 : 0, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(it.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const z64 = Buffer.alloc(opts.zip64 ? 28 : 0);
    if (opts.zip64) {
      z64.writeUInt16LE(0x0001, 0);
      z64.writeUInt16LE(24, 2);
      z64.writeBigUInt64LE(BigInt(it.data.length), 4);
      z64.writeBigUInt64LE(BigInt(body.length), 12);
      z64.writeBigUInt64LE(BigInt(offset), 20);
    }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(it.deflate ? 8 : 0, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(it.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    if (opts.zip64) {
      ch.writeUInt16LE(45, 6);
      ch.writeUInt32LE(0xffffffff, 20);
      ch.writeUInt32LE(0xffffffff, 24);
      ch.writeUInt32LE(0xffffffff, 42);
      ch.writeUInt16LE(z64.length, 30);
    }
    locals.push(lh, name, body);
    centrals.push(ch, name, z64);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(items.length, 8);
  eocd.writeUInt16LE(items.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  if (!opts.zip64) return Buffer.concat([...locals, cd, eocd]);
  const rec = Buffer.alloc(56);
  rec.writeUInt32LE(0x06064b50, 0);
  rec.writeBigUInt64LE(44n, 4);
  rec.writeUInt16LE(45, 12);
  rec.writeUInt16LE(45, 14);
  rec.writeBigUInt64LE(BigInt(items.length), 24);
  rec.writeBigUInt64LE(BigInt(items.length), 32);
  rec.writeBigUInt64LE(BigInt(cd.length), 40);
  rec.writeBigUInt64LE(BigInt(offset), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0);
  loc.writeBigUInt64LE(BigInt(offset + cd.length), 8);
  loc.writeUInt32LE(1, 16);
  eocd.writeUInt16LE(0xffff, 8);
  eocd.writeUInt16LE(0xffff, 10);
  eocd.writeUInt32LE(0xffffffff, 12);
  eocd.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([...locals, cd, rec, loc, eocd]);
}

/** A torch.save zip: archive/data.pkl, archive/data/<key> storages, archive/byteorder, archive/version. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, opts: { deflate?: boolean; prefix?: string; zip64?: boolean } = {}): Buffer {
  const pre = opts.prefix ?? 'archive';
  return makeZip(
    [
    { name: `${pre}/data.pkl`, data: pickle },
    { name: `${pre}/byteorder`, data: Buffer.from('little') },
    ...Object.entries(storages).map(([k, v]) => ({ name: `${pre}/data/${k}`, data: v, deflate: opts.deflate })),
    { name: `${pre}/version`, data: Buffer.from('3\n') },
    ],
    { zip64: opts.zip64 },
  );
}

export function f32Bytes(xs: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(xs).buffer);
}
