import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PolyglotError } from '../core/errors.js';
import { TorchBinFile, TorchBinSource } from '../convert/torch-bin.js';
import { ZipArchive } from '../convert/zip.js';
import { PyDict, PyGlobal, PyList, PyTuple, unpickle, type UnpickleHooks } from '../convert/pickle.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { fixturePath, throwsExactly } from './helpers.js';
import { PickleBuilder, f32Bytes, makeZip, stateDictPickle, torchZip, type FakeTensor } from './convert-torchfile.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tbin-'));
let n = 0;
function write(bytes: Uint8Array, name = `t${n++}.bin`): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, bytes);
  return p;
}
const arr = (x: ArrayLike<number | bigint>): (number | bigint)[] => Array.from(x as ArrayLike<number>);

test('fixture pytorch_model.bin: same weights as the safetensors fixture, lm_head tied to the embedding storage', () => {
  const bin = TorchBinFile.open(fixturePath('xglm-tiny-bin', 'pytorch_model.bin'));
  const st = SafetensorsFile.open(fixturePath('xglm-tiny', 'model.safetensors'));
  assert.is(bin.names().length, 36);
  assert.equal(
    bin.names().filter((x) => x !== 'lm_head.weight').sort(),
    st.names().sort(),
  );
  for (const name of st.names()) {
    const a = bin.read(name);
    const b = st.read(name);
    assert.equal(a.shape, b.shape, name);
    assert.is(a.dtype, 'F32');
    assert.ok(Buffer.from((a.data as Float32Array).buffer).equals(Buffer.from((b.data as Float32Array).buffer)), `${name} differs`);
  }
  assert.equal([...bin.aliases()], [['lm_head.weight', 'model.embed_tokens.weight']]);
  const lm = bin.read('lm_head.weight');
  assert.equal(lm.shape, [1008, 64]);
  assert.equal(arr(lm.data.slice(0, 64 * 3)), arr(st.read('model.embed_tokens.weight').data.slice(0, 64 * 3)));
  // Values checked independently with python3 struct on the fixture bytes.
  assert.equal(arr(bin.read('model.layers.1.fc2.weight').data.slice(0, 4)), [-0.6567685008049011, -0.09625737369060516, 0.1599092334508896, -0.4823143184185028]);
  assert.equal(bin.info('model.embed_tokens.weight').storage.key, '0');
  const src = new TorchBinSource([bin]);
  assert.is(src.aliasOf('lm_head.weight'), 'model.embed_tokens.weight');
  assert.is(src.aliasOf('model.embed_tokens.weight'), undefined);
  assert.equal(src.meta('model.layers.0.fc1.weight'), { name: 'model.layers.0.fc1.weight', dtype: 'F32', shape: [128, 64], file: fixturePath('xglm-tiny-bin', 'pytorch_model.bin') });
});

const views: FakeTensor[] = [
  { name: 'w', storageType: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
  // w.t(): [3, 2] with stride (1, 3)
  { name: 'wT', storageType: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [3, 2], stride: [1, 3] },
  // w[:, 1:] .t(): offset 1, [2, 2], stride (1, 3)
  { name: 'sub', storageType: 'FloatStorage', key: '0', numel: 6, offset: 1, shape: [2, 2], stride: [1, 3] },
  // w[1] (a row view with an offset), and a tie of w
  { name: 'row1', storageType: 'FloatStorage', key: '0', numel: 6, offset: 3, shape: [3], stride: [1] },
  { name: 'tied', storageType: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
  { name: 'half', storageType: 'HalfStorage', key: '1', numel: 4, offset: 0, shape: [4], stride: [1] },
  { name: 'bf', storageType: 'BFloat16Storage', key: '2', numel: 3, offset: 0, shape: [3], stride: [1] },
  { name: 'dbl', storageType: 'DoubleStorage', key: '3', numel: 2, offset: 0, shape: [2], stride: [1] },
  { name: 'ids', storageType: 'LongStorage', key: '4', numel: 3, offset: 0, shape: [1, 3], stride: [3, 1] },
  { name: 'i32', storageType: 'IntStorage', key: '5', numel: 2, offset: 1, shape: [], stride: [] },
  { name: 'empty', storageType: 'FloatStorage', key: '6', numel: 0, offset: 0, shape: [0, 4], stride: [4, 1] },
];
function storagesBytes(): Record<string, Uint8Array> {
  const u16 = (xs: number[]): Uint8Array => new Uint8Array(new Uint16Array(xs).buffer);
  return {
    '0': f32Bytes([0, 1, 2, 3, 4, 5]),
    '1': u16([0x3c00, 0xc000, 0x3555, 0x7c00]), // 1, -2, 0.333251953125, inf
    '2': u16([0x3f80, 0x4049, 0xbf00]), // 1, 3.140625, -0.5
    '3': new Uint8Array(new Float64Array([0.1, -1e300]).buffer),
    '4': new Uint8Array(new BigInt64Array([-(2n ** 40n), 0n, 7n]).buffer),
    '5': new Uint8Array(new Int32Array([11, -12]).buffer),
    '6': new Uint8Array(0),
  };
}
function checkViews(f: TorchBinFile): void {
  assert.equal(arr(f.read('w').data), [0, 1, 2, 3, 4, 5]);
  assert.equal(f.read('wT').shape, [3, 2]);
  assert.equal(arr(f.read('wT').data), [0, 3, 1, 4, 2, 5]);
  assert.equal(arr(f.read('sub').data), [1, 4, 2, 5]);
  assert.equal(arr(f.read('row1').data), [3, 4, 5]);
  const h = f.read('half');
  assert.is(h.dtype, 'F16');
  assert.equal(arr(h.data), [1, -2, 0.333251953125, Infinity]);
  assert.equal(arr(f.read('bf').data), [1, 3.140625, -0.5]);
  assert.equal(arr(f.read('dbl').data), [Math.fround(0.1), -Infinity]);
  const ids = f.read('ids');
  assert.ok(ids.data instanceof BigInt64Array);
  assert.equal(arr(ids.data), [-(2n ** 40n), 0n, 7n]);
  assert.equal(f.read('i32').shape, []);
  assert.equal(arr(f.read('i32').data), [-12]);
  assert.equal(f.read('empty').shape, [0, 4]);
  assert.is(f.read('empty').data.length, 0);
  assert.equal([...f.aliases()], [['tied', 'w']]);
}

test('strided / offset views and every storage dtype (protocol 2, stored entries)', () => {
  checkViews(TorchBinFile.open(write(torchZip(stateDictPickle(views), storagesBytes()))));
});

test('protocol 4 (STACK_GLOBAL, MEMOIZE, FRAME), parameters, _metadata BUILD, deflated entries', () => {
  const pk = stateDictPickle(views, { protocol4: true, asParameter: true, withMetadata: true });
  checkViews(TorchBinFile.open(write(torchZip(pk, storagesBytes(), { deflate: true, prefix: 'pytorch_model' }))));
});

test('ZIP64 archives (sentinel sizes, ZIP64 extra fields and end record), deflated', () => {
  checkViews(TorchBinFile.open(write(torchZip(stateDictPickle(views), storagesBytes(), { zip64: true, deflate: true }))));
});

test('zero (broadcast) and overlapping strides are refused: a saved state dict has none', () => {
  for (const [shape, stride] of [[[2, 2], [0, 0]], [[16384, 16384], [0, 0]], [[3, 2], [1, 1]], [[2, 3], [2, 1]]]) {
    const t: FakeTensor = { name: 'v', storageType: 'FloatStorage', key: '0', numel: 6, offset: 0, shape, stride };
    const p = write(torchZip(stateDictPickle([t]), { '0': f32Bytes([0, 1, 2, 3, 4, 5]) }));
    throwsExactly(() => TorchBinFile.open(p), `${p}: _rebuild_tensor_v2: size ${JSON.stringify(shape)} with stride ${JSON.stringify(stride)} makes elements overlap (a zero or overlapping stride; a saved state dict has none)`);
  }
  // Size-1 dimensions never move, so any stride there is fine (torch gives them arbitrary ones).
  const ok: FakeTensor = { name: 'v', storageType: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [1, 6], stride: [0, 1] };
  assert.equal(arr(TorchBinFile.open(write(torchZip(stateDictPickle([ok]), { '0': f32Bytes([0, 1, 2, 3, 4, 5]) }))).read('v').data), [0, 1, 2, 3, 4, 5]);
});

test('a deflated storage larger than its views is refused before inflating; a stored one is read only where viewed', () => {
  const big = new Uint8Array(64 << 20); // 64 MiB of zeros deflates to ~64 KiB
  const t: FakeTensor = { name: 'v', storageType: 'FloatStorage', key: '0', numel: big.length / 4, offset: 0, shape: [2], stride: [1] };
  const p = write(torchZip(stateDictPickle([t]), { '0': big }, { deflate: true }));
  assert.ok(fs.statSync(p).size < 1 << 20);
  throwsExactly(() => TorchBinFile.open(p), `${p}: storage 0 is deflated to ${big.length} bytes but its views use only 8; torch.save stores storages uncompressed (re-save the checkpoint)`);
  const small = write(torchZip(stateDictPickle([{ ...t, numel: 6, offset: 3 }]), { '0': f32Bytes([0, 1, 2, 3, 4, 5]) }));
  assert.equal(arr(TorchBinFile.open(small).read('v').data), [3, 4]);
});

test('_rebuild_tensor_v2 with the wrong argument count or a non-bool requires_grad (as torch.load(weights_only=True))', () => {
  const t: FakeTensor = { name: 'v', storageType: 'FloatStorage', key: '0', numel: 2, offset: 0, shape: [2], stride: [1] };
  const good = stateDictPickle([t]);
  // requires_grad is the NEWFALSE (0x89) right before the OrderedDict global of backward_hooks.
  const hooks = good.indexOf(Buffer.from('ccollections\nOrderedDict\n', 'latin1'), good.indexOf(Buffer.from('_rebuild_tensor_v2')));
  assert.is(good[hooks - 1], 0x89);
  const intFlag = Buffer.concat([good.subarray(0, hooks - 1), Buffer.from([0x4b, 0x01]), good.subarray(hooks)]);
  const p1 = write(torchZip(intFlag, { '0': f32Bytes([1, 2]) }));
  throwsExactly(() => TorchBinFile.open(p1), `${p1}: _rebuild_tensor_v2: requires_grad is int 1, expected True or False`);
  const noFlag = Buffer.concat([good.subarray(0, hooks - 1), good.subarray(hooks)]);
  const p2 = write(torchZip(noFlag, { '0': f32Bytes([1, 2]) }));
  throwsExactly(() => TorchBinFile.open(p2), /_rebuild_tensor_v2 expects \(storage, offset, size, stride, requires_grad, backward_hooks\[, metadata\]\), found 5 arguments$/);
});

test('unsupported storage types are named', () => {
  const t: FakeTensor = { name: 'c', storageType: 'ComplexFloatStorage', key: '0', numel: 1, offset: 0, shape: [1], stride: [1] };
  const p = write(torchZip(stateDictPickle([t]), { '0': new Uint8Array(8) }));
  throwsExactly(() => TorchBinFile.open(p), `${p}: tensors stored as torch.ComplexFloatStorage are not supported (supported: FloatStorage, HalfStorage, BFloat16Storage, DoubleStorage, LongStorage, IntStorage, ShortStorage, CharStorage, ByteStorage, BoolStorage)`);
});

/**
 * Plain-data pickles written by CPython's pickle.dumps (protocols 2 and 4), zlib + base64:
 * {'f': 1.5, 'big': 2**70, 'neg': -5, 'negbig': -(2**40), 'n': None, 't': True, 'fa': False, 'lst': [1, 2, 'x'],
 *  'tup': (1, 2, 3, 4), 't1': (7,), 'i4': 70000, 'u': 'é✓', 'l': ['s0', ..., 's299'], 'again': <same object as l[299]>,
 *  'empty': (), 'd': {}}
 * Opcodes covered (pickletools): APPENDS BINFLOAT BININT BININT1 BINPUT LONG_BINPUT LONG_BINGET BINUNICODE
 * SHORT_BINUNICODE EMPTY_DICT EMPTY_LIST EMPTY_TUPLE FRAME LONG1 MARK MEMOIZE NEWFALSE NEWTRUE NONE PROTO SETITEMS TUPLE TUPLE1.
 */
const CPYTHON_PICKLES: Record<number, string> = {
  2: 'eNpN13WYFVUYx/HdpcRAUTFBUVEXRZzT5yBSNmvnGqioK6K47u9lsVEMDGyxu7u7u7u7u7trHWbe99kzf8z9fM89M8/9Z97nzoym6Whobm1saGjYFY3rjP6joTpae5SnnSZPQtOsvg18jKkW29smocf4v7u6ulp71zlnW89Zvas9XdWd2tFrwwqd6H1Ua9Oce09En6Or66dM7cRcE9C3uaWxpanatC/mbqu+6pzWgXmq9ZYeLT07MW91aafCfC19ZqJfVZMt5h/f0b+xobp0GhZo7VV+PnzlR+fMRv9qbQoWnICFmqvdUwssXENhQA2NRWoYLFrDYrEaDovX8FiiRsCSNSIG1kgYVP3WqarAUiyFpVkag1kGy7AslmU5LMfyGMIKWJ4VsQIrYcVaukAzS2EoS2MllsHKLIthLIdVWB7DWQGrsiIKVoKqZQpoloJhaViWgWNZeJZDYHlEVkBiRYxgJaxWyxYYyVJYnaUximUwmmUxhuUwluUxjhWwBitiTVbCWrVcgbVZCuuwNNZlGazHshjPcmhheazPCtiAFbEhK2GjWr7AxiyFTVgam7IMNmNZbM5y2ILlsSUrYCtWRCsrYetaocA2LIVtWRrbsQwmsCy2ZznswPLYkRUwkRWxEyth51qxwC4shTaWxq4sg0ksi91YDpNZHruzAvZgRUxhJexZKxVoZynsxdLoYBmAZUEsh6ksj05WwDRWxN6shH1ae9bPYIF9hQr7CTX2FxocILQ4UOgwXehxkDDgYGHEDGHCIczykT9UqHCYUONwocFMocURQocjhR5HCQOOFkbMEiYcwywf/mOFCscJNY4XGpwgtDhR6HCS0ONkYcBsYcQpwoRTmeUYOE2ocLpQ4wyhwZlCi7OEDmcLPc4RBpwrjDhPmHA+sxwIFwgVLhRqXCQ0uFhocYnQ4VKhx2XCgMuFEVcIE65klqPhKqHC1UKNa4QG1wotrhM6XC/0uEEYcKMw4iZhws3MckjcIlS4Vahxm9DgdqHFHUKHO4UedwkD7hZG3CNMuJdZjov7hAr3CzUeEBo8KLR4SOjwsNDjEWHAo8KIx4QJjzPLwfGEUOFJocZTQoOnhRbPCB2eFXo8Jwx4XhjxgjDhRWY5Ql4SKrws1HhFaPCq0OI1ocPrQo83hAFvCiPeEia8XVOXs+QdocK7Qo33hAbvCy0+EDp8KPT4SBjwsTDiE2HCp8xylnwmVPhcqPGF0OBLocVXQoevhR7fCAO+FUZ8J0z4nlnOkh+ECj8KNX4SGvwstPhF6PCr0OM3YcDvwog/hAl/MstZ8pdQ4W+hxj9Cg3+FFv8JHbqEnhrK/3JSgRqzitSUVaIe3WUL6pmVol5ZaeqdlaE+WVmaKytHfbPyNHdWgebJKtK8WSWar7tcQf2yUjR/VpoWyMpQ/6wsLZiVo4Wy8rRwVoEGZBVpkawSLdpdvqDFslK0eFaalsjK0JJZWRqYlaNBWXlaKqtAS2cVaXBWiZbprlDQslkpWi4rTUOyMrR8VpZWyMrRill5as4q0NCsIq2UVaKVuysWNCwrRatkpWl4VoZWzcpSkZUjlZUnnVUgk1Ukm1Ui112pIJ+VopCVppiVoZSVpRFZOVotK08jswq0elaRRmWVaHRZbdXr1MRJEye305iyd5+zWK217dnRuR+NLXNo9Zq1C40rP6bTGuV52vD/AZ/N1yg=',
  4: 'eNotlj9qVFEcRvMySdTSXWgjed/9X2knZMAdWERMQiSGQCagSMBGULmd184NuA534ioEizjvO77i+83w5pzqFPNx7/uH+zt+bsejPp2O50//8L2vXp2fja8Pdv4/z/rq8uRsHP29u7vrB9uPfn3gd3d9uhwv+rQZn/vu6fH40lcX15vxcjxaT+vdPr0bJ321ubni+3q13tuMvruZx/rep+2H8ziOrh5OO326GX3/18/fP76NPl0sfN+9Ptz+4npeRsuEZeIyaZm8TFmmLtNGX13Ph97ZK2/wRm/yZm/xVq9ZmZVZmZVZmZVZmZVZmZXZYDaYDWaD2WA2mA1mg9lgNpiNZqPZaDaajWaj2Wg2mo1mo9lkNplNZpPZZDaZTWaT2WQ2mc1ms9lsNpvNZrPZbDabzWaz2WK2mC1mi9litpgtZovZYraYrWar2Wq2mq1mq9lqtpqtZqvZZraZbWab2Wa2mW1mm9lmtm3ZvW0bh5yZI07gRE7iZE7hVA6WGcuMZcYyY5mxzFhmLDOWGcuMRViERViERViERViERViEJWAJWAKWgCVgCVgCloAlYAlYIpaIJWKJWCKWiCViiVgiloglYUlYEpaEJWFJWBKWhCVhSVgylowlY8lYMpaMJWPJWDKWjKVgKVgKloKlYClYCpaCpWApWCqWiqViqVgqloqlYqlYKpaKpWFpWBqWhqVhaVgaloalYaFd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Qr2hXtinZFu6Jd0a5oV7Srbbsnff/47Pj8crx5Om3/WeyfvL3avB+P+/R63I6bJ/8AYx68OA==',
};

test('plain data written by CPython decodes exactly (protocols 2 and 4)', () => {
  const hooks: UnpickleHooks = {
    global: (m, nm) => {
      throw new PolyglotError(`unexpected global ${m}.${nm}`);
    },
    call: () => null,
    build: (o) => o,
    persistentLoad: () => null,
  };
  for (const proto of [2, 4]) {
    const v = unpickle(zlib.inflateSync(Buffer.from(CPYTHON_PICKLES[proto], 'base64')), hooks, `p${proto}`);
    assert.ok(v instanceof PyDict);
    const d = v as PyDict;
    assert.is(d.get('f'), 1.5);
    assert.is(d.get('big'), 2n ** 70n);
    assert.is(d.get('neg'), -5);
    assert.is(d.get('negbig'), -(2 ** 40));
    assert.is(d.get('n'), null);
    assert.is(d.get('t'), true);
    assert.is(d.get('fa'), false);
    assert.equal((d.get('lst') as PyList).items, [1, 2, 'x']);
    assert.equal((d.get('tup') as PyTuple).items, [1, 2, 3, 4]);
    assert.equal((d.get('t1') as PyTuple).items, [7]);
    assert.is(d.get('i4'), 70000);
    assert.is(d.get('u'), 'é✓');
    const l = (d.get('l') as PyList).items;
    assert.is(l.length, 300);
    assert.is(l[123], 's123');
    assert.is(d.get('again'), 's299');
    assert.equal((d.get('empty') as PyTuple).items, []);
    assert.is((d.get('d') as PyDict).size, 0);
    assert.is(d.size, 16);
  }
});

/** A zip holding only data.pkl with these pickle bytes. */
const pickleZip = (pk: Buffer): string => write(torchZip(pk, {}));

test('a pickle calling os.system is rejected by name and nothing runs', () => {
  const marker = path.join(tmp, 'pwned');
  // protocol 0, exactly what `pickle.dumps` of a __reduce__ -> (os.system, (cmd,)) gives
  const pk = Buffer.from(`cos\nsystem\n(S'touch ${marker}'\ntR.`, 'latin1');
  const p = pickleZip(pk);
  throwsExactly(() => TorchBinFile.open(p), `${p}: pickle references forbidden global os.system; only tensor state dicts are accepted`);
  assert.not.ok(fs.existsSync(marker));
  // the same inside an otherwise valid protocol-2 state dict, after a real tensor
  const evil = new PickleBuilder().proto(2).ascii('}').mark().str('x').global('posix', 'system').str(`touch ${marker}`).raw(0x85).ascii('R').ascii('u').stop();
  const p2 = pickleZip(evil);
  throwsExactly(() => TorchBinFile.open(p2), `${p2}: pickle references forbidden global posix.system; only tensor state dicts are accepted`);
  assert.not.ok(fs.existsSync(marker));
});

test('STACK_GLOBAL builtins.eval, torch.storage._load_from_bytes and torch.load tricks are rejected by name', () => {
  const ev = new PickleBuilder().proto(4).stackGlobal('builtins', 'eval').shortStr('1+1').raw(0x85).ascii('R').stop();
  const p1 = pickleZip(ev);
  throwsExactly(() => TorchBinFile.open(p1), `${p1}: pickle references forbidden global builtins.eval; only tensor state dicts are accepted`);
  const lfb = new PickleBuilder().proto(2).global('torch.storage', '_load_from_bytes').mark().raw(0x43, 3, 1, 2, 3).tuple().ascii('R').stop();
  const p2 = pickleZip(lfb);
  throwsExactly(() => TorchBinFile.open(p2), `${p2}: pickle references forbidden global torch.storage._load_from_bytes; only tensor state dicts are accepted`);
  const ga = new PickleBuilder().proto(2).global('__builtin__', 'getattr').stop();
  const p3 = pickleZip(ga);
  throwsExactly(() => TorchBinFile.open(p3), `${p3}: pickle references forbidden global __builtin__.getattr; only tensor state dicts are accepted`);
});

test('allowed globals cannot be abused: calling a storage class, EXT opcodes, INST, mutating non-containers', () => {
  const callStorage = new PickleBuilder().proto(2).global('torch', 'FloatStorage').intTuple([100]).ascii('R').stop();
  const p1 = pickleZip(callStorage);
  throwsExactly(() => TorchBinFile.open(p1), `${p1}: pickle calls torch.FloatStorage, which only names a storage type`);
  const ext = new PickleBuilder().proto(2).raw(0x82, 1).stop();
  const p2 = pickleZip(ext);
  throwsExactly(() => TorchBinFile.open(p2), `${p2}: pickle uses opcode EXT1, which a tensor state dict never needs (opcode at byte 2)`);
  const inst = Buffer.from('(ios\nsystem\n.', 'latin1');
  const p3 = pickleZip(inst);
  throwsExactly(() => TorchBinFile.open(p3), `${p3}: pickle uses opcode INST, which a tensor state dict never needs (opcode at byte 1)`);
  const appendToDict = new PickleBuilder().proto(2).ascii('}').int(1).ascii('a').stop();
  const p4 = pickleZip(appendToDict);
  throwsExactly(() => TorchBinFile.open(p4), `${p4}: pickle appends to dict of 0, only lists are accepted (opcode at byte 5)`);
  const notDict = new PickleBuilder().proto(2).ascii(']').stop();
  const p5 = pickleZip(notDict);
  throwsExactly(() => TorchBinFile.open(p5), `${p5}: expected a state dict (name -> tensor), the pickle holds list of 0`);
});

test('the unpickler consults the hooks for every global and never touches anything else', () => {
  const seen: string[] = [];
  const hooks: UnpickleHooks = {
    global: (m, nm) => {
      seen.push(`${m}.${nm}`);
      return new PyGlobal(m, nm);
    },
    call: () => new PyDict(),
    build: (o) => o,
    persistentLoad: () => null,
  };
  const pk = new PickleBuilder().proto(2).global('subprocess', 'Popen').stackGlobal('os', 'remove').raw(0x86).stop();
  const v = unpickle(pk, hooks, 'x.pkl');
  assert.equal(seen, ['subprocess.Popen', 'os.remove']);
  assert.ok(v !== null && typeof v === 'object' && 'items' in v);
  // lengths are checked before allocation: a 4 GB BINUNICODE in a 10-byte pickle
  throwsExactly(() => unpickle(Buffer.from([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0xff, 0x2e]), hooks, 'x.pkl'), 'x.pkl: pickle is truncated: needs 4294967295 more bytes, 1 remain (opcode at byte 2)');
  throwsExactly(() => unpickle(Buffer.from([0x80, 2, 0x68, 9, 0x2e]), hooks, 'x.pkl'), 'x.pkl: pickle reads memo slot 9 that was never written (opcode at byte 2)');
  throwsExactly(() => unpickle(Buffer.from([0x80, 2, 0x2e]), hooks, 'x.pkl'), 'x.pkl: pickle pops from an empty stack (opcode at byte 2)');
  const long4 = Buffer.concat([Buffer.from([0x80, 2, 0x8b]), Buffer.from(new Uint32Array([1 << 20]).buffer), Buffer.alloc(1 << 20), Buffer.from('.')]);
  throwsExactly(() => unpickle(long4, hooks, 'x.pkl'), 'x.pkl: pickle has a 1048576-byte integer (LONG4), more than a tensor state dict ever holds (opcode at byte 2)');
  // 200k-element APPENDS: no call-stack overflow
  const many = Buffer.concat([Buffer.from([0x80, 2, 0x5d, 0x28]), Buffer.alloc(200000, 0x4e), Buffer.from([0x65, 0x2e])]);
  assert.is((unpickle(many, hooks, 'x.pkl') as PyList).items.length, 200000);
});

test('storage and view bounds are checked against the archive', () => {
  const t = (over: Partial<FakeTensor>): FakeTensor => ({ name: 'w', storageType: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1], ...over });
  const sizeLie = write(torchZip(stateDictPickle([t({ numel: 7 })]), { '0': f32Bytes([0, 1, 2, 3, 4, 5]) }));
  throwsExactly(() => TorchBinFile.open(sizeLie), `${sizeLie}: storage 0 (7 x F32) needs 28 bytes, entry archive/data/0 has 24`);
  const past = write(torchZip(stateDictPickle([t({ offset: 1 })]), { '0': f32Bytes([0, 1, 2, 3, 4, 5]) }));
  throwsExactly(() => TorchBinFile.open(past), `${past}: _rebuild_tensor_v2: view (offset 1, size [2,3], stride [3,1]) reaches element 6 of storage 0, which has 6`);
  const missing = write(torchZip(stateDictPickle([t({ key: '9' })]), { '0': f32Bytes([0, 1, 2, 3, 4, 5]) }));
  throwsExactly(() => TorchBinFile.open(missing), `${missing}: storage 9 has no zip entry archive/data/9`);
  const badKey = write(torchZip(stateDictPickle([t({ key: '../../etc/passwd' })]), {}));
  throwsExactly(() => TorchBinFile.open(badKey), `${badKey}: storage key str "../../etc/passwd" is not a plain name`);
});

test('zip structure: truncation, lying directory, CRC, declared sizes, legacy format', () => {
  const good = torchZip(stateDictPickle([views[0]]), { '0': f32Bytes([0, 1, 2, 3, 4, 5]) });
  const trunc = write(good.subarray(0, good.length - 10));
  throwsExactly(() => TorchBinFile.open(trunc), `${trunc}: not a valid zip archive: no end-of-central-directory record`);

  const eocdAt = good.length - 22;
  const lying = Buffer.from(good);
  lying.writeUInt32LE(good.length, eocdAt + 16); // central directory offset past the end
  const p1 = write(lying);
  throwsExactly(() => TorchBinFile.open(p1), new RegExp(`^${p1.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a valid zip archive: central directory \\[${good.length}, \\d+\\) runs past its end record at ${eocdAt}$`));
  const many = Buffer.from(good);
  many.writeUInt16LE(60000, eocdAt + 10);
  const p2 = write(many);
  throwsExactly(() => TorchBinFile.open(p2), new RegExp(`: not a valid zip archive: 60000 entries cannot fit in a \\d+-byte central directory$`));

  const corrupt = Buffer.from(good);
  const at = corrupt.indexOf(Buffer.from(f32Bytes([0, 1, 2, 3, 4, 5])));
  corrupt[at + 5] ^= 0xff;
  const p3 = write(corrupt);
  const f = TorchBinFile.open(p3); // headers are fine; the data is caught on read
  throwsExactly(() => f.read('w'), new RegExp(`^.*: entry "archive/data/0": CRC-32 0x[0-9a-f]{8} does not match the recorded 0x[0-9a-f]{8} \\(corrupt file\\)$`));

  // A deflated entry whose stream inflates past its declared size (zip bomb shape).
  const bomb = makeZip([{ name: 'a', data: new Uint8Array(100000), deflate: true }]);
  const cdAt = bomb.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  bomb.writeUInt32LE(10, cdAt + 24);
  const p4 = write(bomb);
  throwsExactly(() => ZipArchive.open(p4).read('a'), /: entry "a": cannot inflate to its declared 10 bytes \(/);

  const legacy = write(Buffer.from([0x80, 0x02, 0x8a, 0x0a]));
  throwsExactly(() => TorchBinFile.open(legacy), `${legacy}: legacy torch serialization (before torch 1.6) is not supported; re-save it with a recent torch or convert it to safetensors`);
  const other = write(Buffer.from('hello world'));
  throwsExactly(() => TorchBinFile.open(other), `${other}: not a torch checkpoint: expected a zip archive (torch.save format)`);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
