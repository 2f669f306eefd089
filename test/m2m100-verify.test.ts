/** Every case of the m2m100-tiny fixture (HF's M2M100ForConditionalGeneration outputs), on cpu and wasm. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyFixture } from '../verify/verify.js';
import { fixturePath, useBackend } from './helpers.js';

const CASES = ['forward', 'forward_left_padded_source', 'forward_beyond_max_positions', 'incremental', 'loss', 'grad', 'grad_embedding', 'adamw_step', 'generate_greedy'];

for (const backend of ['cpu', 'wasm'] as const) {
  test(`m2m100-tiny on ${backend}: every case passes`, async () => {
    await useBackend(backend);
    const results = await verifyFixture(fixturePath('m2m100-tiny'));
    assert.equal(results.map((r) => r.case), CASES);
    for (const r of results) assert.is(r.status, 'pass', `${r.case}: ${r.message ?? ''} (max abs ${r.maxAbsError})`);
    assert.is(results.find((r) => r.kind === 'generate_greedy')!.maxAbsError, 0, 'greedy ids exact');
  });
}

test.run();
