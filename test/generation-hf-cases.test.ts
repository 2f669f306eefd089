/**
 * HF generate() references (../shared/fixtures/generate/nllb-moe-tiny.json): every case through
 * the NLLB-MoE session and generate(); sequences exact, sequences_scores within 1e-4 relative.
 * Includes batches where one entry finishes early (issue 10 item 14: beam reorders move only the caches).
 */
import { test } from 'uvu';
import { loadTranslator } from '../generation/load.js';
import { fixturePath, useBackend } from './helpers.js';
import { checkNllbHfCases, readHfGenerateDoc } from './hf-generate-cases.js';

const doc = readHfGenerateDoc('nllb-moe-tiny');

test('NLLB-MoE: every HF generate() case', async () => {
  await useBackend('cpu');
  const tr = await loadTranslator(fixturePath('nllb-moe-tiny'));
  await checkNllbHfCases(tr.model, doc);
});

test.run();
