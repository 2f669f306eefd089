/** `polyglot translate` input as users give it (issue 9 items 7 and 12): `--`, stdin, logs without `\r`. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixturePath } from './helpers.js';
import { runCli } from './cli-process.js';

const args = ['translate', '--model', fixturePath('nllb-moe-tiny'), '--src-lang', 'eng_Latn', '--tgt-lang', 'fra_Latn', '--max-new-tokens', '4', '--backend', 'wasm'];

test('a sentence starting with "-" after -- is translated like any other', async () => {
  const dashed = await runCli([...args, '--json', '--', '-j, --jobs=NUM']);
  assert.is(dashed.code, 0, dashed.stderr);
  const records = dashed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { source: string });
  assert.equal(records.map((r) => r.source), ['-j, --jobs=NUM']);
});

test('stdin is read when no sentence is given and it is not a terminal; progress in a log has no carriage returns', async () => {
  const r = await runCli([...args, '--json'], 'hello\n-x y\n');
  assert.is(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { source: string }).source), ['hello', '-x y']);
  assert.not.ok(r.stderr.includes('\r'), JSON.stringify(r.stderr));
  assert.match(r.stderr, /translated 2\/2 sentences/);
});

test.run();
