/**
 * Issue 10 items 1, 2, 12: the model folder is the boundary. Links out of it are refused
 * (a FIFO target would hang any reader that opened it: the bounded timeout catches that),
 * special files are refused, extra files linking elsewhere are never copied into outputs,
 * and loading tokenizers repeatedly adds no process listeners.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expectOneLineError, fixtureCopy, runCli } from './cli-run.js';
import { loadTokenizer } from '../tokenizers/load.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-files-'));
const outside = path.join(tmp, 'outside');
fs.mkdirSync(outside);
const fifo = path.join(outside, 'fifo');
execFileSync('mkfifo', [fifo]);
const secret = path.join(outside, 'id_rsa');
fs.writeFileSync(secret, 'SECRET KEY MATERIAL\n');

const xglm = (name: string, edit: (dir: string) => void): string => fixtureCopy(tmp, 'xglm-tiny', name, edit);
const linkTo = (dir: string, file: string, target: string): void => {
  fs.rmSync(path.join(dir, file), { force: true });
  fs.symlinkSync(target, path.join(dir, file));
};
const T = 30_000;

for (const file of ['model.safetensors', 'config.json', 'generation_config.json', 'sentencepiece.bpe.model', 'tokenizer_config.json']) {
  test(`${file} linked to a FIFO outside the folder: refused, never opened`, () => {
    const dir = xglm(`out-${file}`, (d) => linkTo(d, file, fifo));
    expectOneLineError(['generate', '--model', dir, '--prompt', 'hi', '--max-new-tokens', '1'], new RegExp(`${file.replace(/\./g, '\\.')}: links to .*fifo, outside the model folder`), T);
  });
}

test('pytorch_model.bin linked outside the folder (a real checkpoint there): refused', () => {
  const real = path.join(outside, 'pytorch_model.bin');
  fs.copyFileSync(path.join(tmp, 'outside', 'id_rsa'), real);
  const dir = xglm('out-bin', (d) => {
    fs.rmSync(path.join(d, 'model.safetensors'));
    linkTo(d, 'pytorch_model.bin', real);
  });
  expectOneLineError(['info', dir], /pytorch_model\.bin: links to .*outside the model folder/, T);
});

test('config.json linked to /dev/zero and a FIFO inside the folder: regular files only', () => {
  const zero = xglm('dev-zero', (d) => linkTo(d, 'config.json', '/dev/zero'));
  expectOneLineError(['info', zero], /config\.json: links to \/dev\/zero, outside the model folder/, T);
  const inner = xglm('fifo-inside', (d) => {
    fs.rmSync(path.join(d, 'config.json'));
    execFileSync('mkfifo', [path.join(d, 'config.json')]);
  });
  expectOneLineError(['info', inner], /config\.json: expected a regular file, found a FIFO/, T);
  const spFifo = xglm('sp-fifo-inside', (d) => {
    fs.rmSync(path.join(d, 'sentencepiece.bpe.model'));
    execFileSync('mkfifo', [path.join(d, 'sentencepiece.bpe.model')]);
  });
  expectOneLineError(['tokenize', '--model', spFifo, 'hi'], /sentencepiece\.bpe\.model: expected a regular file, found a FIFO/, T);
});

test('config.json past the JSON size cap: one line, bounded', () => {
  const dir = xglm('huge-config', (d) => {
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
    cfg.padding = 'x'.repeat(20 * 1024 * 1024);
    fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(cfg));
  });
  expectOneLineError(['info', dir], /config\.json: JSON file of \d+ bytes is larger than the 16777216-byte limit/, T);
});

test('a link inside the folder is followed; weight_map entries that are not plain file names are errors', () => {
  const ok = xglm('inner-link', (d) => {
    fs.renameSync(path.join(d, 'model.safetensors'), path.join(d, 'weights.bin.real'));
    fs.symlinkSync('weights.bin.real', path.join(d, 'model.safetensors'));
  });
  const r = runCli(['info', ok], T);
  assert.is(r.status, 0, r.stderr);
  for (const bad of ['..', '.', '', '/etc/passwd', '../outside/x.safetensors']) {
    const dir = xglm(`wm-${bad.replace(/\W/g, '_')}`, (d) => {
      fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.embed_tokens.weight': bad } }));
    });
    expectOneLineError(['info', dir], /model\.safetensors\.index\.json: weight_map\["model\.embed_tokens\.weight"\]: expected a plain file name inside the model folder/, T);
  }
});

test('convert and export never copy a linked file from outside the folder', () => {
  const dir = xglm('copy-src', (d) => {
    fs.symlinkSync(secret, path.join(d, 'README.md'));
    fs.symlinkSync(secret, path.join(d, 'tokenizer.json'));
    fs.writeFileSync(path.join(d, 'NOTES.md'), 'kept\n');
  });
  const conv = path.join(tmp, 'conv-out');
  const c = runCli(['convert', dir, '--out', conv], T);
  assert.is(c.status, 0, c.stderr);
  assert.not.ok(fs.existsSync(path.join(conv, 'README.md')), 'README.md -> outside not copied');
  assert.not.ok(fs.existsSync(path.join(conv, 'tokenizer.json')), 'tokenizer.json -> outside not copied');
  assert.is(fs.readFileSync(path.join(conv, 'NOTES.md'), 'utf8'), 'kept\n');
  const exp = path.join(tmp, 'export-out');
  const e = runCli(['export', dir, '--out', exp, '--format', 'graph'], 120_000);
  assert.is(e.status, 0, e.stderr);
  assert.not.ok(fs.existsSync(path.join(exp, 'tokenizer.json')), 'tokenizer.json -> outside not exported');
  assert.ok(fs.existsSync(path.join(exp, 'sentencepiece.bpe.model')));
  for (const f of fs.readdirSync(exp, { recursive: true }) as string[]) {
    const p = path.join(exp, f);
    if (fs.statSync(p).isFile()) assert.not.ok(fs.readFileSync(p).includes('SECRET KEY MATERIAL'), `${f} holds the secret`);
  }
});

test('sentencepiece piece with invalid UTF-8: one line naming the piece', () => {
  const dir = xglm('bad-utf8', (d) => {
    const f = path.join(d, 'sentencepiece.bpe.model');
    const b = fs.readFileSync(f);
    // The first piece is "<unk>": field 1 (0x0a) len, then sub-field 1 (0x0a) len "<unk>".
    const at = b.indexOf(Buffer.from('<unk>'));
    b[at + 1] = 0xff;
    fs.writeFileSync(f, b);
  });
  expectOneLineError(['tokenize', '--model', dir, 'hi'], /sentencepiece\.bpe\.model: piece \d+ is not valid UTF-8/, T);
});

test('loading tokenizers repeatedly adds no process listeners', async () => {
  const dir = xglm('listeners', () => {});
  await loadTokenizer(dir);
  const before = [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
  for (let i = 0; i < 5; i++) await loadTokenizer(dir);
  assert.equal([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')], before);
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
