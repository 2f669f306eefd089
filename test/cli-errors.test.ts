/**
 * Bad input through the real `polyglot` binary: every case must end with exactly one
 * stderr line naming the file / tensor / field, exit code 1, no stack trace, and no hang.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from './paths.js';
import { fixturePath } from './helpers.js';
import { torchZip } from './convert-torchfile.js';
import { expectOneLineError, fixtureCopy, runCli } from './cli-run.js';
import { spawnSync } from 'node:child_process';

const cli = path.join(packageRoot(), 'dist', 'cli', 'polyglot.js');

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

test('verify --filter that is not a regular expression: one line naming the flag', () => {
  expectOneLineError(['verify', fixturePath('xglm-tiny'), '--filter', '('], /^polyglot: --filter \(: not a regular expression/);
});

test('init --experts 0: refused by the config parser every loader uses, nothing written', () => {
  const out = path.join(tmp, 'zero-experts');
  expectOneLineError(['init', '--arch', 'nllb-moe', '--out', out, '--experts', '0'], /init: config: field "num_experts": expected a positive integer, found 0/);
  assert.not.ok(fs.existsSync(out));
});

test('train --set with an unknown config field names the closest one', () => {
  const data = path.join(tmp, 'set.txt');
  fs.writeFileSync(data, 'a b c\nd e f\n');
  expectOneLineError(['train', '--model', fixturePath('xglm-tiny'), '--data', data, '--out', path.join(tmp, 'set-run'), '--max-steps', '1', '--set', 'dropoutt=0'], /--set dropoutt: .*config\.json has no field "dropoutt" \(did you mean dropout\?\)/);
});

test('usage errors name CLI flags: no camelCase twins, no library option names', () => {
  const unknown = runCli(['generate', '--model', fixturePath('xglm-tiny'), '--prompt', 'hi', '--max-new-token', '3']);
  assert.is(unknown.status, 2);
  assert.match(unknown.stderr, /^polyglot: unknown option --max-new-token; did you mean --max-new-tokens\?\n/);
  assert.not.match(unknown.stderr, /maxNewToken/);
  expectOneLineError(['generate', '--model', fixturePath('xglm-tiny'), '--prompt', 'hi', '--num-beams', '2', '--num-return-sequences', '3'], /--num-return-sequences \(3\) must be <= --num-beams \(2\)/);
});

test('a misspelled flag is named with the closest one, on every command, before any missing-option complaint', () => {
  const dir = fixturePath('xglm-tiny');
  const cases: [string[], string][] = [
    [['generate', '--model', dir, '--promt', 'hi'], '--promt; did you mean --prompt?'],
    [['translate', '--model', dir, '--src-lang', 'eng_Latn', '--tgtlang', 'fra_Latn', 'hi'], '--tgtlang; did you mean --tgt-lang?'],
    [['verify', dir, '--flter', 'x'], '--flter; did you mean --filter?'],
    [['info', dir, '--jsn'], '--jsn; did you mean --json?'],
    [['tokenize', '--modl', dir, 'hi'], '--modl; did you mean --model?'],
    [['convert', dir, '--ot', path.join(tmp, 'never')], '--ot; did you mean --out?'],
    [['export', dir, '--out', path.join(tmp, 'never'), '--formt', 'graph'], '--formt; did you mean --format?'],
    [['train', '--modl', dir], '--modl; did you mean --model?'],
    [['eval', '--modl', dir], '--modl; did you mean --model?'],
    [['init', '--arch', 'xglm', '--ou', path.join(tmp, 'never')], '--ou; did you mean --out?'],
    [['demo', '--max-step', '3'], '--max-step; did you mean --max-steps?'],
    [['export-hf', '--modle', dir], '--modle; did you mean --model?'],
    [['upcycle', '--modl', dir, '--out', path.join(tmp, 'never'), '--experts', '2'], '--modl; did you mean --model?'],
    [['generate', '--model', dir, '--prompt', 'hi', '--xyzzy'], '--xyzzy\n'],
  ];
  for (const [args, expected] of cases) {
    const r = runCli(args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`polyglot: unknown option ${expected}`), `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr.split('\n').length, 2, `usage errors are one line: ${JSON.stringify(r.stderr)}`);
  }
  assert.not.ok(fs.existsSync(path.join(tmp, 'never')));
});

test('train / demo --out naming an existing file, or a path through a file: one line, nothing written', () => {
  const file = path.join(tmp, 'a-file');
  fs.writeFileSync(file, 'keep me');
  const data = path.join(tmp, 'out-file.txt');
  fs.writeFileSync(data, 'a b c\nd e f\n');
  const train = (out: string) => ['train', '--model', fixturePath('xglm-tiny'), '--data', data, '--out', out, '--max-steps', '1'];
  expectOneLineError(train(file), /^polyglot: --out .*a-file: expected a folder, found a file$/);
  expectOneLineError(train(path.join(file, 'run')), /^polyglot: --out .*a-file\/run: cannot create the folder: a part of its path is a file$/);
  expectOneLineError(['demo', '--out', file, '--minutes', '0.01'], /^polyglot: --out .*a-file: expected a folder, found a file$/);
  assert.is(fs.readFileSync(file, 'utf8'), 'keep me');
});

test('--help wraps at word boundaries at 80 columns', () => {
  const r = spawnSync(process.execPath, [cli, 'tokenize', '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '80' } });
  assert.match(r.stdout, /the HF slow tokenizer of the model\s*\n\s*directory\)/);
  assert.not.match(r.stdout, /dir\nectory/);
});

test('a training checkpoint or output folder given as --model says what it is and what to run', () => {
  const ck = path.join(tmp, 'run', 'checkpoints', 'checkpoint-0000003');
  fs.mkdirSync(ck, { recursive: true });
  fs.writeFileSync(path.join(ck, 'trainer_state.json'), '{}');
  expectOneLineError(['generate', '--model', ck, '--prompt', 'hi'], /no config\.json .*; it is a training checkpoint: `polyglot export-hf --model <model trained from> --checkpoint /);
  expectOneLineError(['generate', '--model', path.join(tmp, 'run'), '--prompt', 'hi'], /it is a training output folder: its final model is .*run\/model/);
});

test.run();
