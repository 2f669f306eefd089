/** Every forward / incremental / generate_greedy / loss case of the XGLM fixtures, on cpu and wasm. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyFixture } from '../verify/verify.js';
import { fixturePath, useBackend } from './helpers.js';

const KINDS = ['forward', 'incremental', 'generate_greedy', 'loss'];

for (const backend of ['cpu', 'wasm'] as const) {
  for (const fixture of ['xglm-tiny', 'xglm-tiny-bin']) {
    test(`${fixture} on ${backend}: all model cases pass`, async () => {
      await useBackend(backend);
      const results = await verifyFixture(fixturePath(fixture));
      const mine = results.filter((r) => KINDS.includes(r.kind));
      assert.is(mine.length, 7, 'four forward cases, incremental, generate_greedy, loss');
      for (const r of mine) {
        assert.is(r.status, 'pass', `${r.case}: ${r.message ?? ''} (max abs ${r.maxAbsError})`);
        assert.ok(r.maxAbsError <= r.atol, `${r.case}: max abs error ${r.maxAbsError} above atol ${r.atol}`);
      }
      const gen = mine.find((r) => r.kind === 'generate_greedy')!;
      assert.is(gen.maxAbsError, 0, 'greedy ids exact');
    });
  }
}

test.run();
