/**
 * Bad input through the real `polyglot` binary: every case must end with exactly one
 * stderr line naming the file / tensor / field, exit code 1, no stack trace, and no hang.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { torchZip } from './convert-torchfile.js';
import { expectOneLineError, fixtureCopy } from './cli-run.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-errors-'));

/** A copy of the xglm-tiny fixture whose files `edit` may change. */
function modelCopy(name: string, edit: (dir: string) => void): string {
  return fixtureCopy(tmp, 'xglm-tiny', name, edit);
}

test('truncated safetensors file', () => {
  const dir = modelCopy('truncated', (d) => {
    const f = path.join(d, 'model.safetensors');
    fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 4000));
  });
  expectOneLineError(['generate', '--model', dir, '--prompt', 'hi'], /model\.safetensors: tensor "model\.embed_tokens\.weight": data_offsets .* run past the end/);
});

test('safetensors header length that lies (larger than the file)', () => {
  const dir = modelCopy('lying-header', (d) => {
    const f = path.join(d, 'model.safetensors');
    const bytes = fs.readFileSync(f);
    bytes.writeBigUInt64LE(BigInt(bytes.length) * 1000n, 0);
    fs.writeFileSync(f, bytes);
  });
  expectOneLineError(['info', dir], /model\.safetensors: safetensors header length \d+ does not fit/);
});

test('pytorch_model.bin whose pickle names a forbidden global (nothing is executed)', () => {
  const marker = path.join(tmp, 'pwned');
  // protocol 2: GLOBAL os.system, the argument tuple, REDUCE: what a malicious checkpoint does.
  const cmd = Buffer.from(`touch ${marker}`);
  const pickle = Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from('cos\nsystem\n', 'latin1'),
    Buffer.from([0x58]), Buffer.from(Uint32Array.of(cmd.length).buffer), cmd,
    Buffer.from([0x85, 0x52, 0x2e]),
  ]);
  const dir = modelCopy('evil-bin', (d) => {
    fs.rmSync(path.join(d, 'model.safetensors'));
    fs.writeFileSync(path.join(d, 'pytorch_model.bin'), torchZip(pickle, {}));
  });
  expectOneLineError(['generate', '--model', dir, '--prompt', 'hi'], /pytorch_model\.bin: .*forbidden global os\.system/);
  assert.not.ok(fs.existsSync(marker), 'the pickle ran nothing');
});

test('config.json field of the wrong type', () => {
  const dir = modelCopy('bad-config', (d) => {
    const f = path.join(d, 'config.json');
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('"attention_heads": 4', '"attention_heads": "four"'));
  });
  expectOneLineError(['generate', '--model', dir, '--prompt', 'hi'], /config\.json: field "attention_heads": expected a positive integer, found string "four"/);
});

test('a config asking for more layers than the checkpoint has (checked before building)', () => {
  const dir = modelCopy('missing-tensor', (d) => {
    const f = path.join(d, 'config.json');
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('"num_layers": 2', '"num_layers": 3'));
  });
  expectOneLineError(['generate', '--model', dir, '--prompt', 'hi'], /config\.json: field "num_layers" is 3, but the checkpoint holds 2 decoder layers/);
});

test('a directory that is not a model', () => {
  expectOneLineError(['info', path.join(tmp, 'nothing-here')], /nothing-here: no such directory/);
});

test.run();
