import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixturePath, useBackend } from './helpers.js';
import { verifyFixture } from '../verify/verify.js';

// Every grad-kind case (grad, grad_embedding, grad_standard) and adamw_step of the three model
// fixtures, through the shared handlers of verify/train-cases.ts, on both backends.
const EXPECTED: Record<string, string[]> = {
  'xglm-tiny': ['grad_train_no_dropout', 'adamw_step'],
  'xglm-tiny-bin': ['grad_train_no_dropout', 'adamw_step'],
  'nllb-moe-tiny': ['grad', 'grad_embedding', 'adamw_step', 'grad_standard'],
};

for (const backend of ['cpu', 'wasm'] as const) {
  for (const [fixture, names] of Object.entries(EXPECTED)) {
    test(`${backend}: ${fixture} grad / adamw_step cases pass`, async () => {
      await useBackend(backend);
      const results = await verifyFixture(fixturePath(fixture), { filter: /^(grad|adamw)/ });
      assert.equal(results.map((r) => r.case), names);
      for (const r of results) {
        assert.is(r.status, 'pass', `${fixture}/${r.case}: ${r.message} (max abs ${r.maxAbsError})`);
        assert.ok(r.outputs.length >= 2, `${r.case} compares loss/params and gradients`);
      }
    });
  }
}

test.run();
