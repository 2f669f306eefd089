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
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/"max_position_embeddings": \d+/, `"max_position_embeddings": ${n}`));
  });
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning: '));
const consequence = /more than the model's max_position_embeddings \(8, config\.json\): the sinusoidal position table is extended as Hugging Face does/;

/** Runs the command: exit 0 and exactly one warning, which starts with `start` and says what happens. */
function warnsOnce(args: string[], start: RegExp): void {
  const r = runCli([...args, '--quiet']);
  assert.is(r.status, 0, r.stderr);
  const w = warnings(r.stderr);
  assert.is(w.length, 1, r.stderr);
  assert.match(w[0], start);
  assert.match(w[0], consequence);
}

const long = 'The cat sat on the mat and looked out of the window';

test('generate: a prompt past the table warns once before generating; a continuation that runs past it warns too', () => {
  const xglm = shortTable('xglm-tiny', 8);
  warnsOnce(['generate', '--model', xglm, '--prompt', long, '--max-new-tokens', '2'], /^warning: a prompt has \d+ tokens, /);
  warnsOnce(['generate', '--model', xglm, '--prompt', 'hi', '--max-new-tokens', '10'], /^warning: a prompt with its continuation has 13 tokens, /);
  const within = runCli(['generate', '--model', fixturePath('xglm-tiny'), '--prompt', 'hi', '--max-new-tokens', '10', '--quiet']);
  assert.equal(warnings(within.stderr), []);
});

test('translate and eval warn the same way', () => {
  const nllb = shortTable('nllb-moe-tiny', 8);
  warnsOnce(['translate', '--model', nllb, '--src-lang', 'eng_Latn', '--tgt-lang', 'fra_Latn', '--max-new-tokens', '2', long], /^warning: a source sentence has \d+ tokens, /);
  const data = path.join(tmp, 'dev.txt');
  fs.writeFileSync(data, `${long}\nhi\n`);
  warnsOnce(['eval', '--model', shortTable('xglm-tiny', 8), '--data', data], /^warning: an evaluation batch row has \d+ tokens, /);
});

test('train warns once when a training batch passes the table, and still trains', () => {
  const data = path.join(tmp, 'train.txt');
  fs.writeFileSync(data, Array.from({ length: 8 }, (_, i) => `${long} ${i}`).join('\n') + '\n');
  warnsOnce(['train', '--model', shortTable('xglm-tiny', 8), '--data', data, '--out', path.join(tmp, 'run'), '--max-steps', '2', '--batch-size', '2'], /^warning: a training batch row has \d+ tokens, /);
  const within = runCli(['train', '--model', fixturePath('xglm-tiny'), '--data', data, '--out', path.join(tmp, 'run-within'), '--max-steps', '1', '--batch-size', '2', '--quiet']);
  assert.is(within.status, 0, within.stderr);
  assert.equal(warnings(within.stderr), []);
});

test.run();
