import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SafetensorsFile } from '../convert/safetensors.js';
import { openSafetensorsDir } from '../convert/checkpoint.js';
import { fixturePath } from './helpers.js';

test('reads the xglm-tiny fixture header and a tensor', () => {
  const f = SafetensorsFile.open(fixturePath('xglm-tiny', 'model.safetensors'));
  const info = f.info('model.embed_tokens.weight');
  assert.equal(info.shape, [1008, 64]);
  const t = f.read('model.embed_tokens.weight');
  assert.is(t.data.length, 1008 * 64);
});

test('opens a sharded safetensors checkpoint through its index', () => {
  const ck = openSafetensorsDir(fixturePath('nllb-moe-tiny'))!;
  assert.ok(ck.tensors.has('model.shared.weight'));
  assert.is(ck.files.length, 2);
});

test('rejects a header length that runs past the file', () => {
  const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'st-')), 'bad.safetensors');
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(1000n, 0);
  fs.writeFileSync(p, b);
  assert.throws(() => SafetensorsFile.open(p), /header length 1000 does not fit/);
});

test.run();
