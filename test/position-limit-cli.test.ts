/**
 * Sequences past config.json's max_position_embeddings (real CLI): one warning naming the limit and
 * what happens (the sinusoidal table is extended as HF does), the command still succeeds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixtureCopy, runCli } from './cli-run.js';
import { fixturePath } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'position-limit-'));
const shortTable = (fixture: string, n: number) =>
  fixtureCopy(tmp, fixture, `${fixture}-${n}`, (d) => {
    const f = path.join(d, 'config.json');
    fs.writeFileSync(
      f,
      fs.readFileSync(f, 'utf8').replace(/"max_position_embeddings": \d+/, `"max_position_embeddings": ${n}`),
    );
  });
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning: '));
const what =
  /more than the model's max_position_embeddings \(8, config\.json\): the sinusoidal position table is extended as Hugging Face does/;

test('generate: a prompt past the table warns once before generating; a continuation that runs past it warns too', () => {
  const xglm = shortTable('xglm-tiny', 8);
  const long = runCli([
    'generate',
    '--model',
    xglm,
    '--prompt',
    'The cat sat on the mat and looked out',
    '--max-new-tokens',
    '2',
    '--quiet',
  ]);
  assert.is(long.status, 0, long.stderr);
  assert.equal(warnings(long.stderr).length, 1, long.stderr);
  assert.match(warnings(long.stderr)[0], /^warning: a prompt has \d+ tokens, /);
  assert.match(warnings(long.stderr)[0], what);
  const grows = runCli(['generate', '--model', xglm, '--prompt', 'hi', '--max-new-tokens', '10', '--quiet']);
  assert.is(grows.status, 0, grows.stderr);
  assert.equal(warnings(grows.stderr).length, 1, grows.stderr);
  assert.match(warnings(grows.stderr)[0], /^warning: a prompt with its continuation has 13 tokens, /);
  const within = runCli([
    'generate',
    '--model',
    fixturePath('xglm-tiny'),
    '--prompt',
    'hi',
    '--max-new-tokens',
    '10',
    '--quiet',
  ]);
  assert.equal(warnings(within.stderr), []);
});

test('translate and eval warn the same way', () => {
  const nllb = shortTable('nllb-moe-tiny', 8);
  const tr = runCli([
    'translate',
    '--model',
    nllb,
    '--src-lang',
    'eng_Latn',
    '--tgt-lang',
    'fra_Latn',
    '--max-new-tokens',
    '2',
    '--quiet',
    'The cat sat on the mat and looked out of the window',
  ]);
  assert.is(tr.status, 0, tr.stderr);
  assert.equal(warnings(tr.stderr).length, 1, tr.stderr);
  assert.match(warnings(tr.stderr)[0], /^warning: a source sentence has \d+ tokens, /);
  assert.match(warnings(tr.stderr)[0], what);
  const data = path.join(tmp, 'dev.txt');
  fs.writeFileSync(data, 'The cat sat on the mat and looked out of the window\nhi\n');
  const ev = runCli(['eval', '--model', shortTable('xglm-tiny', 8), '--data', data, '--quiet']);
  assert.is(ev.status, 0, ev.stderr);
  assert.equal(warnings(ev.stderr).length, 1, ev.stderr);
  assert.match(warnings(ev.stderr)[0], /^warning: an evaluation batch row has \d+ tokens, /);
});

test.run();
