/**
 * HF generate() references (../shared/fixtures/generate/nllb-moe-tiny.json): every case through
 * the NLLB-MoE session and generate(); sequences exact, sequences_scores within 1e-4 relative.
 * Includes batches where one entry finishes early (issue 10 item 14: beam reorders move only the caches).
 */
import { test } from 'uvu';
import { tf } from '../core/tf.js';
import { generate } from '../generation/generate.js';
import { loadTranslator } from '../generation/load.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { fixturePath, useBackend } from './helpers.js';
import { checkHfCase, hfGenerateOptions, readHfGenerateDoc } from './hf-generate-cases.js';

const doc = readHfGenerateDoc('nllb-moe-tiny');

test('NLLB-MoE: every HF generate() case', async () => {
  await useBackend('cpu');
  const tr = await loadTranslator(fixturePath('nllb-moe-tiny'));
  const g = doc.generation_config;
  for (const c of doc.cases) {
    const opts = hfGenerateOptions(c, doc);
    const ids = tf.tensor2d(c.input_ids, undefined, 'int32');
    const mask = tf.tensor2d(c.attention_mask, undefined, 'int32');
    const s = new NllbMoeSession(tr.model, ids, mask);
    const r = await generate(s, { inputIds: c.input_ids.map(() => [g.decoder_start_token_id]) }, opts);
    s.dispose();
    tf.dispose([ids, mask]);
    checkHfCase(c, r);
  }
});

test.run();
