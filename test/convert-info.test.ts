import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { formatCheckpointDescription } from '../convert/info.js';
import { describeModel as describeCheckpoint } from '../models/registry.js';
import { sparseLayers } from '../models/nllb-moe/config.js';
import { convertCheckpoint, parseByteSize } from '../convert/convert.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { floatToBf16Bits } from '../convert/dtypes.js';
import { fixturePath } from './helpers.js';
import { f32Bytes, stateDictPickle, torchZip } from './convert-torchfile.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cinfo-'));

// XGLM-tiny parameters counted by hand: embed 1008*64; per layer 4*(64*64+64) + 2*2*64 + (128*64+128) + (64*128+64); final LN 2*64.
const XGLM_PARAMS = 1008 * 64 + 2 * (4 * (64 * 64 + 64) + 4 * 64 + (128 * 64 + 128) + (64 * 128 + 64)) + 2 * 64;

test('describe the .bin fixture: tied lm_head counted once, dtypes, size on disk', () => {
  const d = describeCheckpoint(openCheckpoint(fixturePath('xglm-tiny-bin')));
  assert.is(XGLM_PARAMS, 131584);
  assert.is(d.modelType, 'xglm');
  assert.equal(d.architectures, ['XGLMForCausalLM']);
  assert.is(d.parameterCount, XGLM_PARAMS);
  assert.is(d.tensorCount, 36);
  assert.equal(d.aliases, [{ name: 'lm_head.weight', of: 'model.embed_tokens.weight' }]);
  assert.equal(d.dtypes, { F32: { tensors: 35, parameters: XGLM_PARAMS } });
  assert.is(d.sizeOnDisk, 537050);
  assert.equal(d.summary, { layers: 2, d_model: 64, 'attention heads': 4, 'ffn dim': 128, 'vocab size': 1008, 'max positions': 128, activation: 'gelu', torch_dtype: 'float32' });
  const text = formatCheckpointDescription(d);
  assert.match(text, /parameters:\s+131584 \(131\.6K\)/);
  assert.match(text, /tensors:\s+36 \(1 tied: lm_head\.weight = model\.embed_tokens\.weight\)/);
  // the safetensors fixture has the same parameters (lm_head simply absent)
  const s = describeCheckpoint(openCheckpoint(fixturePath('xglm-tiny')));
  assert.is(s.parameterCount, XGLM_PARAMS);
  assert.is(s.sizeOnDisk, 529800);
});

test('describe nllb-moe-tiny: experts, sparse layers, sharded size', () => {
  const d = describeCheckpoint(openCheckpoint(fixturePath('nllb-moe-tiny')));
  assert.is(d.modelType, 'nllb-moe');
  // totals computed with python3 from the shard headers (= index total_size 1378816 / 4 bytes)
  assert.is(d.parameterCount, 344704);
  // 2 sparse layers x 4 experts x (fc1 128*64+128 + fc2 64*128+64)
  assert.is(d.expertParameterCount, 2 * 4 * (128 * 64 + 128 + 64 * 128 + 64));
  assert.is(d.summary['sparse encoder layers'], '1');
  assert.is(d.summary['sparse decoder layers'], '1');
  assert.is(d.summary.experts, 4);
  assert.is(d.sizeOnDisk, 747096 + 644600);
  assert.equal(sparseLayers(12, 4), [3, 7, 11]);
  assert.equal(sparseLayers(3, 0), []);
});

test('convert .bin -> safetensors float32 reproduces the safetensors fixture tensor for tensor', () => {
  const out = path.join(tmp, 'xglm-st');
  const r = convertCheckpoint(fixturePath('xglm-tiny-bin'), out);
  assert.is(r.dtype, 'float32');
  assert.is(r.tensorCount, 35);
  assert.equal(r.droppedAliases, [{ name: 'lm_head.weight', of: 'model.embed_tokens.weight' }]);
  assert.equal(r.copiedFiles, ['generation_config.json', 'sentencepiece.bpe.model', 'special_tokens_map.json', 'tokenizer_config.json']);
  assert.equal(fs.readdirSync(out).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'sentencepiece.bpe.model', 'special_tokens_map.json', 'tokenizer_config.json']);
  const got = SafetensorsFile.open(path.join(out, 'model.safetensors'));
  const want = SafetensorsFile.open(fixturePath('xglm-tiny', 'model.safetensors'));
  assert.equal(got.names().sort(), want.names().sort());
  for (const n of want.names()) assert.ok(Buffer.from(got.readBytes(n)).equals(Buffer.from(want.readBytes(n))), n);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')), JSON.parse(fs.readFileSync(fixturePath('xglm-tiny', 'config.json'), 'utf8')));
  assert.equal(fs.readFileSync(path.join(out, 'tokenizer_config.json')), fs.readFileSync(fixturePath('xglm-tiny-bin', 'tokenizer_config.json')));
  // and the result describes like the original
  assert.is(describeCheckpoint(openCheckpoint(out)).parameterCount, XGLM_PARAMS);
});

test('convert to bfloat16 (sharded) rounds every value to nearest even', () => {
  const out = path.join(tmp, 'moe-bf16');
  const r = convertCheckpoint(fixturePath('nllb-moe-tiny'), out, { dtype: 'bfloat16', maxShardBytes: parseByteSize('400KB') });
  assert.is(r.weightFiles.length, 2);
  assert.is(r.totalSize, 344704 * 2);
  const ck = openCheckpoint(out);
  assert.is(ck.config.torch_dtype, 'bfloat16');
  const src = openCheckpoint(fixturePath('nllb-moe-tiny'));
  const name = 'model.encoder.layers.1.ffn.experts.expert_2.fc1.weight';
  const a = src.tensors.read(name).data as Float32Array;
  const b = ck.tensors.read(name).data as Float32Array;
  const bits = new Uint32Array(b.buffer);
  for (let i = 0; i < a.length; i++) assert.is(bits[i] >>> 16, floatToBf16Bits(a[i]));
  assert.ok(a.some((v, i) => v !== b[i]), 'values really changed');
});

test('convert materialises strided .bin views and keeps integer tensors as I64', () => {
  const src = path.join(tmp, 'views-src');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'config.json'), JSON.stringify({ model_type: 'xglm', tie_word_embeddings: false }));
  const pk = stateDictPickle([
    { name: 'w', storageType: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
    { name: 'wT', storageType: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [3, 2], stride: [1, 3] },
    { name: 'again', storageType: 'FloatStorage', key: '0', numel: 6, offset: 0, shape: [2, 3], stride: [3, 1] },
    { name: 'ids', storageType: 'LongStorage', key: '1', numel: 2, offset: 0, shape: [2], stride: [1] },
  ]);
  fs.writeFileSync(path.join(src, 'pytorch_model.bin'), torchZip(pk, { '0': f32Bytes([0, 1, 2, 3, 4, 5]), '1': new Uint8Array(new BigInt64Array([5n, -(2n ** 50n)]).buffer) }));
  const out = path.join(tmp, 'views-out');
  const r = convertCheckpoint(src, out);
  // tie_word_embeddings false: the alias is written out as its own tensor, not dropped
  assert.equal(r.droppedAliases, []);
  const st = SafetensorsFile.open(path.join(out, 'model.safetensors'));
  assert.equal(st.names(), ['w', 'wT', 'again', 'ids']);
  assert.equal(Array.from(st.read('wT').data as Float32Array), [0, 3, 1, 4, 2, 5]);
  assert.equal(Array.from(st.read('again').data as Float32Array), [0, 1, 2, 3, 4, 5]);
  assert.is(st.info('ids').dtype, 'I64');
  assert.equal(Array.from(st.read('ids').data as BigInt64Array), [5n, -(2n ** 50n)]);
});

test('convert refuses an existing output without force', () => {
  const out = path.join(tmp, 'xglm-st');
  assert.throws(() => convertCheckpoint(fixturePath('xglm-tiny'), out), (e: Error) => e instanceof PolyglotError && e.message === `${out}: already exists (pass overwrite / --force to replace it)`);
  const r = convertCheckpoint(fixturePath('xglm-tiny'), out, { force: true, dtype: 'float16' });
  assert.equal(r.droppedAliases, []);
  assert.is(openCheckpoint(out).tensors.meta('model.embed_tokens.weight').dtype, 'F16');
});

test('parseByteSize: decimal units like HF max_shard_size, binary with i', () => {
  assert.is(parseByteSize('2GB'), 2e9);
  assert.is(parseByteSize('500MiB'), 500 * 2 ** 20);
  assert.is(parseByteSize('1000'), 1000);
  assert.is(parseByteSize('1.5kb'), 1500);
  assert.throws(() => parseByteSize('lots'), (e: Error) => e instanceof PolyglotError && e.message === '--max-shard-size: expected a size like 2GB or 500MiB, found "lots"');
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
