import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { planShards, writeHfModelDir } from '../convert/hf-writer.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { readJsonFile } from '../convert/checkpoint.js';
import { throwsExactly } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hfw-'));
const config = { model_type: 'xglm', d_model: 2, num_layers: 1, torch_dtype: 'float32', architectures: ['XGLMForCausalLM'] };
const tensors = () => [
  { name: 'model.embed_tokens.weight', shape: [3, 2], data: new Float32Array([1, -2, 0.1, 1 + 3 * 2 ** -11, 65520, 1e-8]) },
  { name: 'model.layer_norm.weight', shape: [2], data: new Float32Array([1.5, 1 + 3 * 2 ** -8]) },
  { name: 'model.layers.0.fc1.weight', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) },
];
const leftovers = (): string[] => fs.readdirSync(tmp).filter((f) => f.startsWith('.'));

test('float32 single file: config with torch_dtype, exact values, format metadata, extra files', () => {
  const out = path.join(tmp, 'f32');
  const src = path.join(tmp, 'tok.model');
  fs.writeFileSync(src, 'spm-bytes');
  fs.chmodSync(src, 0o444);
  const r = writeHfModelDir(
    out,
    { config: { ...config, torch_dtype: 'bfloat16' }, tensors: tensors(), extraFiles: [{ name: 'tokenizer_config.json', contents: '{"a":1}' }, { name: 'sentencepiece.bpe.model', sourcePath: src }] },
    { dtype: 'float32' },
  );
  assert.equal(r.weightFiles, ['model.safetensors']);
  assert.is(r.totalSize, 12 * 4);
  assert.equal(fs.readdirSync(out).sort(), ['config.json', 'model.safetensors', 'sentencepiece.bpe.model', 'tokenizer_config.json']);
  const cfg = readJsonFile(path.join(out, 'config.json')) as Record<string, unknown>;
  assert.is(cfg.torch_dtype, 'float32');
  assert.equal(Object.keys(cfg), Object.keys(cfg).sort(), 'keys sorted like HF to_json_string');
  const st = SafetensorsFile.open(path.join(out, 'model.safetensors'));
  assert.equal(st.metadata, { format: 'pt' });
  assert.equal(Array.from(st.read('model.embed_tokens.weight').data as Float32Array), Array.from(tensors()[0].data));
  assert.is(fs.readFileSync(path.join(out, 'sentencepiece.bpe.model'), 'utf8'), 'spm-bytes');
  assert.is(fs.statSync(path.join(out, 'sentencepiece.bpe.model')).mode & 0o200, 0o200, 'copied file is writable');
  const ck = openCheckpoint(out);
  assert.equal(ck.tensors.names(), tensors().map((t) => t.name));
  assert.equal(leftovers(), []);
});

test('float16 sharded: HF shard names, index with total_size and weight_map, RNE values', () => {
  const out = path.join(tmp, 'f16');
  // 12 bytes, 4 bytes, 8 bytes at f16; max 12 -> [embed] [ln, fc1]
  const r = writeHfModelDir(out, { config, tensors: tensors() }, { dtype: 'float16', maxShardBytes: 12 });
  assert.equal(r.weightFiles, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  const index = readJsonFile(path.join(out, 'model.safetensors.index.json'));
  assert.equal(index, {
    metadata: { total_size: 24 },
    weight_map: {
      'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
      'model.layer_norm.weight': 'model-00002-of-00002.safetensors',
      'model.layers.0.fc1.weight': 'model-00002-of-00002.safetensors',
    },
  });
  const ck = openCheckpoint(out);
  assert.is(ck.config.torch_dtype, 'float16');
  assert.is(ck.tensors.meta('model.embed_tokens.weight').dtype, 'F16');
  // 0.1 -> 0.0999755859375 (nearest half), 1+3*2^-11 -> 1+2^-9 (tie to even), 65520 -> inf, 1e-8 -> 0
  assert.equal(Array.from(ck.tensors.read('model.embed_tokens.weight').data as Float32Array), [1, -2, 0.0999755859375, 1 + 2 ** -9, Infinity, 0]);
  assert.equal(Array.from(ck.tensors.read('model.layer_norm.weight').data as Float32Array), [1.5, 1 + 3 * 2 ** -8]); // exactly representable in half
});

test('bfloat16 with lazy tensors', () => {
  const out = path.join(tmp, 'bf16');
  let calls = 0;
  const lazy = tensors().map((t) => ({ ...t, data: () => (calls++, t.data) }));
  writeHfModelDir(out, { config, tensors: lazy }, { dtype: 'bfloat16' });
  assert.is(calls, 3);
  const ck = openCheckpoint(out);
  assert.is(ck.tensors.meta('model.layer_norm.weight').dtype, 'BF16');
  // 1+3*2^-8 is a tie -> even (1+2^-6); 0.1 -> 0.10009765625
  assert.equal(Array.from(ck.tensors.read('model.layer_norm.weight').data as Float32Array), [1.5, 1 + 2 ** -6]);
  assert.is((ck.tensors.read('model.embed_tokens.weight').data as Float32Array)[2], 0.10009765625);
});

test('integer tensors keep I32 / I64 (eager or lazy with kind); a lazy kind mismatch fails cleanly', () => {
  const out = path.join(tmp, 'ints');
  writeHfModelDir(
    out,
    {
      config,
      tensors: [
        { name: 'pos', shape: [3], data: () => new BigInt64Array([0n, 1n, 2n ** 40n]), kind: 'int64' },
        { name: 'mask', shape: [2], data: new Int32Array([1, 0]) },
        { name: 'w', shape: [1], data: () => new Float32Array([0.5]) },
      ],
    },
    { dtype: 'float16' },
  );
  const ck = openCheckpoint(out);
  assert.equal([ck.tensors.meta('pos').dtype, ck.tensors.meta('mask').dtype, ck.tensors.meta('w').dtype], ['I64', 'I32', 'F16']);
  assert.equal(Array.from(ck.tensors.read('pos').data as BigInt64Array), [0n, 1n, 2n ** 40n]);
  const bad = path.join(tmp, 'badkind');
  throwsExactly(
    () => writeHfModelDir(bad, { config, tensors: [{ name: 'pos', shape: [1], data: () => new Int32Array([1]), kind: 'int64' }] }, { dtype: 'float32' }),
    'tensor "pos": declared int64 data, got int32',
  );
  assert.not.ok(fs.existsSync(bad));
  assert.equal(leftovers(), []);
});

test('never clobbers an existing directory without overwrite; overwrite replaces it whole', () => {
  const out = path.join(tmp, 'exists');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'precious.txt'), 'keep');
  throwsExactly(() => writeHfModelDir(out, { config, tensors: tensors() }, { dtype: 'float32' }), `${out}: already exists (pass overwrite / --force to replace it)`);
  assert.is(fs.readFileSync(path.join(out, 'precious.txt'), 'utf8'), 'keep');
  writeHfModelDir(out, { config, tensors: tensors() }, { dtype: 'float32', overwrite: true });
  assert.equal(fs.readdirSync(out).sort(), ['config.json', 'model.safetensors']);
  assert.equal(leftovers(), []);
});

test('a failure half-way leaves neither the output nor a temp directory (and keeps an old one)', () => {
  const out = path.join(tmp, 'fails');
  const bad = [...tensors(), { name: 'boom', shape: [1], data: (): Float32Array => { throw new PolyglotError('boom: cannot read'); } }];
  throwsExactly(() => writeHfModelDir(out, { config, tensors: bad }, { dtype: 'float32', maxShardBytes: 8 }), 'boom: cannot read');
  assert.not.ok(fs.existsSync(out));
  assert.equal(leftovers(), []);
  const old = path.join(tmp, 'f32');
  throwsExactly(() => writeHfModelDir(old, { config, tensors: bad }, { dtype: 'float32', overwrite: true }), 'boom: cannot read');
  assert.ok(fs.existsSync(path.join(old, 'sentencepiece.bpe.model')), 'old directory untouched');
  assert.equal(leftovers(), []);
});

test('input validation: duplicates, wrong element counts, reserved extra names, dtype', () => {
  const out = path.join(tmp, 'never');
  throwsExactly(() => writeHfModelDir(out, { config, tensors: [...tensors(), tensors()[0]] }, { dtype: 'float32' }), 'tensor "model.embed_tokens.weight" is given twice');
  assert.throws(
    () => writeHfModelDir(out, { config, tensors: [{ name: 'x', shape: [2, 2], data: new Float32Array(3) }] }, { dtype: 'float32' }),
    (e: Error) => e instanceof PolyglotError && / tensor "x": shape \[2,2\] needs 4 elements, data has 3$/.test(e.message),
  );
  throwsExactly(() => writeHfModelDir(out, { config, tensors: tensors(), extraFiles: [{ name: 'config.json', contents: '{}' }] }, { dtype: 'float32' }), 'extra file "config.json": that name is written by the model writer itself');
  throwsExactly(() => writeHfModelDir(out, { config, tensors: tensors(), extraFiles: [{ name: '../evil', contents: '' }] }, { dtype: 'float32' }), 'extra file "../evil": expected a plain file name');
  throwsExactly(() => writeHfModelDir(out, { config, tensors: tensors() }, { dtype: 'float8' as never }), 'dtype: expected float32, float16 or bfloat16, found "float8"');
  assert.not.ok(fs.existsSync(out));
  assert.equal(leftovers(), []);
});

test('planShards follows huggingface_hub: in order, new shard when full, oversize tensors alone', () => {
  assert.equal(planShards([4, 4, 4], 8), [[0, 1], [2]]);
  assert.equal(planShards([10, 2, 2, 10], 8), [[0], [1, 2], [3]]);
  assert.equal(planShards([1, 2, 3]), [[0, 1, 2]]);
  assert.equal(planShards([]), [[]]);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test.run();
