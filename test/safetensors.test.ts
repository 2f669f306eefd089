import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { writeSafetensors } from '../convert/safetensors-writer.js';
import { decodeToFloat32, floatToBf16Bits, floatToHalfBits, halfToFloat } from '../convert/dtypes.js';
import { openSafetensorsDir } from '../convert/checkpoint.js';
import { fixturePath, throwsExactly } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'st-'));

/** A raw safetensors file: header text as given (length field overridable), then data. */
function rawFile(name: string, header: string, data: Uint8Array, lengthField?: bigint): string {
  const h = Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthField ?? BigInt(h.length), 0);
  const p = path.join(tmp, name);
  fs.writeFileSync(p, Buffer.concat([len, h, data]));
  return p;
}

test('reads the xglm-tiny fixture header and a tensor', () => {
  const f = SafetensorsFile.open(fixturePath('xglm-tiny', 'model.safetensors'));
  const info = f.info('model.embed_tokens.weight');
  assert.equal(info.shape, [1008, 64]);
  const t = f.read('model.layers.1.fc2.weight');
  assert.equal(t.shape, [64, 128]);
  // First values checked independently with python3 struct.unpack on the same bytes.
  assert.equal(Array.from(t.data.slice(0, 4) as Float32Array), [-0.6567685008049011, -0.09625737369060516, 0.1599092334508896, -0.4823143184185028]);
  assert.equal(f.metadata, { format: 'pt' });
});

test('opens a sharded safetensors checkpoint through its index', () => {
  const ck = openSafetensorsDir(fixturePath('nllb-moe-tiny'))!;
  assert.ok(ck.tensors.has('model.shared.weight'));
  assert.is(ck.files.length, 2);
});

test('float32 -> float16 rounds to nearest even, overflows to inf, keeps subnormals', () => {
  assert.is(floatToHalfBits(1), 0x3c00);
  assert.is(floatToHalfBits(-2), 0xc000);
  assert.is(floatToHalfBits(65504), 0x7bff);
  assert.is(floatToHalfBits(65519), 0x7bff); // below the halfway point 65520
  assert.is(floatToHalfBits(65520), 0x7c00); // halfway -> even -> 65536 = inf
  assert.is(floatToHalfBits(1 + 2 ** -11), 0x3c00); // halfway, 1.0 is even
  assert.is(floatToHalfBits(1 + 3 * 2 ** -11), 0x3c02); // halfway, rounds up to even
  assert.is(floatToHalfBits(1 + 2 ** -11 + 2 ** -20), 0x3c01); // just above halfway
  assert.is(floatToHalfBits(2 ** -24), 0x0001);
  assert.is(floatToHalfBits(2 ** -25), 0x0000); // halfway to the smallest subnormal -> even (0)
  assert.is(floatToHalfBits(1.5 * 2 ** -25), 0x0001);
  assert.is(floatToHalfBits(2 ** -14 - 2 ** -25), 0x0400); // largest subnormal rounds up to min normal
  assert.is(floatToHalfBits(-0), 0x8000);
  assert.is(floatToHalfBits(Infinity), 0x7c00);
  assert.ok(Number.isNaN(halfToFloat(floatToHalfBits(NaN))));
  // Round trip of every finite half value.
  for (let h = 0; h < 0x7c00; h += 7) assert.is(floatToHalfBits(halfToFloat(h)), h);
});

test('float32 -> bfloat16 rounds to nearest even', () => {
  assert.is(floatToBf16Bits(1), 0x3f80);
  assert.is(floatToBf16Bits(1 + 2 ** -8), 0x3f80); // halfway, even stays
  assert.is(floatToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // halfway, rounds up to even
  assert.is(floatToBf16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  assert.is(floatToBf16Bits(-3.5), 0xc060);
  assert.is(floatToBf16Bits(3.4028234663852886e38), 0x7f80); // max float rounds to inf
  assert.is(floatToBf16Bits(NaN) & 0x7fc0, 0x7fc0);
});

test('decoding is the same on the aligned fast path and the unaligned DataView path', () => {
  const f = new Float32Array([1.5, -2, 3e-9]);
  const raw = new Uint8Array(13);
  raw.set(new Uint8Array(f.buffer), 1); // byteOffset 1: unaligned
  assert.equal(Array.from(decodeToFloat32('F32', raw.subarray(1)) as Float32Array), Array.from(f));
  assert.equal(Array.from(decodeToFloat32('F32', new Uint8Array(f.buffer)) as Float32Array), Array.from(f));
  const big = new BigInt64Array([-3n, 2n ** 62n]);
  const rawI = new Uint8Array(17);
  rawI.set(new Uint8Array(big.buffer), 1);
  assert.equal(Array.from(decodeToFloat32('I64', rawI.subarray(1)) as BigInt64Array), [-3n, 2n ** 62n]);
  assert.equal(Array.from(decodeToFloat32('I64', new Uint8Array(big.buffer)) as BigInt64Array), [-3n, 2n ** 62n]);
  // the fast path copies: mutating the source does not change the result
  const src = new Uint8Array(new Float32Array([7]).buffer);
  const out = decodeToFloat32('F32', src);
  src.fill(0);
  assert.is((out as Float32Array)[0], 7);
});

test('writes and reads back F32 / F16 / BF16 / I64 / I32 with metadata', () => {
  const p = path.join(tmp, 'rt.safetensors');
  writeSafetensors(
    p,
    [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.25, 0.1, 5, 6]) },
      { name: 'h', dtype: 'F16', shape: [3], data: new Float32Array([1 + 3 * 2 ** -11, 65520, -0.5]) },
      { name: 'b', dtype: 'BF16', shape: [2], data: new Float32Array([1 + 3 * 2 ** -8, 0.1]) },
      { name: 'ids', dtype: 'I64', shape: [2], data: new BigInt64Array([-1n, 2n ** 40n]) },
      { name: 'i', dtype: 'I32', shape: [1, 2], data: new Int32Array([7, -7]) },
      { name: 'empty', dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
    ],
    { format: 'pt' },
  );
  assert.equal(fs.readdirSync(tmp).filter((f) => f.startsWith('.rt')), [], 'no temp file left behind');
  const raw = fs.readFileSync(p);
  assert.is(Number(raw.readBigUInt64LE(0)) % 8, 0, 'header padded to 8 bytes');
  const f = SafetensorsFile.open(p);
  assert.equal(f.metadata, { format: 'pt' });
  assert.equal(f.names(), ['a', 'h', 'b', 'ids', 'i', 'empty']);
  assert.equal(Array.from(f.read('a').data as Float32Array), Array.from(new Float32Array([1, -2, 3.25, 0.1, 5, 6])));
  assert.equal(Array.from(f.read('h').data as Float32Array), [1 + 2 ** -9, Infinity, -0.5]);
  assert.equal(Array.from(f.read('b').data as Float32Array), [1 + 2 ** -6, 0.10009765625]);
  assert.equal(Array.from(f.read('ids').data as BigInt64Array), [-1n, 2n ** 40n]);
  assert.equal(f.read('i').shape, [1, 2]);
  assert.equal(Array.from(f.read('i').data as Int32Array), [7, -7]);
  assert.is(f.read('empty').data.length, 0);
});

test('a failed write leaves the existing file untouched and no temp file', () => {
  const p = path.join(tmp, 'keep.safetensors');
  writeSafetensors(p, [{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array([42]) }]);
  throwsExactly(
    () => writeSafetensors(p, [{ name: 'x', dtype: 'I32', shape: [2], data: new Float32Array([1, 2.5]) }]),
    `${p}: tensor "x": element 1 is 2.5, not an integer in [-2147483648, 2147483647] as I32 needs`,
  );
  throwsExactly(
    () => writeSafetensors(p, [{ name: 'x', dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }]),
    `${p}: tensor "x": shape [2,2] needs 4 elements, data has 3`,
  );
  assert.equal(Array.from(SafetensorsFile.open(p).read('x').data as Float32Array), [42]);
  assert.equal(fs.readdirSync(tmp).filter((f) => f.startsWith('.keep')), []);
});

const f32x2 = (offs: [number, number], dtype = 'F32', shape = [2]): Record<string, unknown> => ({ dtype, shape, data_offsets: offs });

test('rejects a file shorter than the length field', () => {
  const p = path.join(tmp, 'short.safetensors');
  fs.writeFileSync(p, Buffer.from([1, 2, 3]));
  throwsExactly(() => SafetensorsFile.open(p), `${p}: not a safetensors file: 3 bytes, expected at least the 8-byte header length`);
});

test('rejects a header length that runs past the file', () => {
  const p = rawFile('lying-len.safetensors', '{}', new Uint8Array(6), 1000n);
  throwsExactly(() => SafetensorsFile.open(p), `${p}: safetensors header length 1000 does not fit: the file has 8 bytes after the length field (limit 104857600)`);
});

test('rejects a truncated file (tensor bytes cut off)', () => {
  const p = rawFile('trunc.safetensors', JSON.stringify({ x: f32x2([0, 8]) }), new Uint8Array(5));
  throwsExactly(() => SafetensorsFile.open(p), `${p}: tensor "x": data_offsets [0, 8] run past the end of the data section (5 bytes)`);
});

test('rejects a byte range that does not match shape x dtype', () => {
  const p = rawFile('count.safetensors', JSON.stringify({ x: f32x2([0, 6]) }), new Uint8Array(6));
  throwsExactly(() => SafetensorsFile.open(p), `${p}: tensor "x": shape [2] x F32 needs 8 bytes but data_offsets [0, 6] cover 6`);
});

test('rejects overlapping tensors', () => {
  const p = rawFile('overlap.safetensors', JSON.stringify({ x: f32x2([0, 8]), y: f32x2([4, 12]) }), new Uint8Array(12));
  throwsExactly(() => SafetensorsFile.open(p), `${p}: tensors "x" and "y" overlap in the data section`);
});

test('rejects a gap between tensors and trailing bytes (ranges must tile the data, as in HF)', () => {
  const gap = rawFile('gap.safetensors', JSON.stringify({ x: f32x2([0, 8]), y: f32x2([12, 20]) }), new Uint8Array(20));
  throwsExactly(() => SafetensorsFile.open(gap), `${gap}: data section bytes [8, 12) belong to no tensor (safetensors requires the tensors to tile the data section)`);
  const trail = rawFile('trail.safetensors', JSON.stringify({ x: f32x2([0, 8]) }), new Uint8Array(11));
  throwsExactly(() => SafetensorsFile.open(trail), `${trail}: 3 trailing bytes after the last tensor (data section is 11 bytes, tensors cover 8)`);
});

test('rejects an unknown dtype', () => {
  const p = rawFile('dtype.safetensors', JSON.stringify({ x: f32x2([0, 8], 'F8_E9') }), new Uint8Array(8));
  throwsExactly(() => SafetensorsFile.open(p), `${p}: tensor "x": unknown dtype "F8_E9"`);
});

test('rejects a header that is not a JSON object', () => {
  const bad = rawFile('json.safetensors', '{"x": {"dtype": "F32",', new Uint8Array(0));
  assert.throws(() => SafetensorsFile.open(bad), (e: Error) => e instanceof PolyglotError && e.message.startsWith(`${bad}: safetensors header is not valid JSON (`) && !e.message.includes('\n'));
  const arr = rawFile('arr.safetensors', '[1, 2]', new Uint8Array(0));
  throwsExactly(() => SafetensorsFile.open(arr), `${arr}: safetensors header must be a JSON object`);
  const meta = rawFile('meta.safetensors', JSON.stringify({ __metadata__: { n: 3 } }), new Uint8Array(0));
  throwsExactly(() => SafetensorsFile.open(meta), `${meta}: __metadata__ must be an object of strings, found {"n":3}`);
});

test('every stored fixture file passes the strict reader', () => {
  for (const p of [
    fixturePath('xglm-tiny', 'model.safetensors'),
    fixturePath('xglm-tiny', 'reference', 'tensors.safetensors'),
    fixturePath('nllb-moe-tiny', 'model-00001-of-00002.safetensors'),
    fixturePath('nllb-moe-tiny', 'model-00002-of-00002.safetensors'),
  ]) {
    assert.ok(SafetensorsFile.open(p).names().length > 0, p);
  }
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
