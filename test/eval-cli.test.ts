/** `polyglot eval` through the real CLI: progress on stderr (batches, tokens/s, ETA), whole lines in a log. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixturePath } from './helpers.js';
import { runCli } from './cli-run.js';

test('eval shows progress on stderr while it runs; stdout keeps only the result', () => {
  const data = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'eval-cli-')), 'dev.txt');
  fs.writeFileSync(
    data,
    fs.readFileSync(fixturePath('corpus', 'monolingual.txt'), 'utf8').split('\n').slice(0, 20).join('\n') + '\n',
  );
  const r = runCli(['eval', '--model', fixturePath('xglm-tiny'), '--data', data, '--batch-size', '2']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^dev lm loss \d+\.\d{4} ppl \d+\.\d{2}\n$/);
  assert.not.match(r.stderr, /\r/, 'no carriage returns in a log');
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('eval: '));
  assert.ok(lines.length >= 5 && lines.length <= 11, r.stderr);
  for (const l of lines) assert.match(l, /^eval: batch \d+, \d+\/20 examples, \d+ tokens\/s, ETA \d+s$/);
  assert.match(lines[lines.length - 1], /^eval: batch 10, 20\/20 examples, /);
  const quiet = runCli(['eval', '--model', fixturePath('xglm-tiny'), '--data', data, '--batch-size', '2', '--quiet']);
  assert.not.match(quiet.stderr, /eval: batch/);
});

test.run();
