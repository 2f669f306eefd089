/** `polyglot verify` output through the real CLI: JSON Lines with --json, the deciding tolerance check in the table. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixturePath } from './helpers.js';
import { runCli } from './cli-run.js';

test('verify --json prints JSON Lines: one parseable record per case, with the check that decided it', () => {
  const r = runCli([
    'verify',
    fixturePath('xglm-tiny'),
    '--json',
    '--filter',
    '^(forward_right_padded|generate_greedy_left_padded)$',
  ]);
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.is(lines.length, 2, r.stdout);
  const records = lines.map(
    (l) => JSON.parse(l) as { case: string; status: string; check: string; rtol: number; atol: number },
  );
  assert.equal(
    records.map((x) => x.case),
    ['forward_right_padded', 'generate_greedy_left_padded'],
  );
  assert.ok(records.every((x) => x.status === 'pass'));
  assert.match(
    records[0].check,
    /^\|a-b\| \d\.\de-\d+ <= atol 0\.00005 \+ rtol 0\.00005\*\|b\| = \d\.\de-\d+ \(\|b\| [^,]+, logits\)$/,
  );
  assert.is(records[1].check, 'exact match required');
});

test('verify table: no relative-error column beside "pass"; the tolerance check of the element nearest its bound instead', () => {
  const r = runCli(['verify', fixturePath('xglm-tiny'), '--filter', '^forward_right_padded$']);
  assert.is(r.status, 0, r.stderr);
  assert.not.match(r.stdout, /max rel err/);
  assert.match(
    r.stdout,
    /forward_right_padded .* \|a-b\| \S+ <= atol 0\.00005 \+ rtol 0\.00005\*\|b\| = \S+ .* pass\n/,
  );
});

test.run();
