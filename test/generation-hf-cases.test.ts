/**
 * HF generate() references (../shared/fixtures/generate/nllb-moe-tiny.json): every case through
 * the NLLB-MoE session and generate(); sequences exact, sequences_scores within 1e-4 relative.
 * Includes batches where one entry finishes early (issue 10 item 14: beam reorders move only the caches).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { tf } from '../core/tf.js';
import { generate } from '../generation/generate.js';
import type { GenerateOptions } from '../generation/options.js';
import { loadTranslator } from '../generation/load.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { fixturePath, useBackend } from './helpers.js';

interface HfCase {
  name: string;
  input_ids: number[][];
  attention_mask: number[][];
  generate_kwargs: Record<string, number | boolean | string | null>;
  expect: { sequences: number[][]; sequences_scores: number[] | null };
}

const doc = JSON.parse(fs.readFileSync(fixturePath('generate', 'nllb-moe-tiny.json'), 'utf8')) as { generation_config: Record<string, number>; cases: HfCase[] };

test('NLLB-MoE: every HF generate() case', async () => {
  await useBackend('cpu');
  const tr = await loadTranslator(fixturePath('nllb-moe-tiny'));
  const g = doc.generation_config;
  for (const c of doc.cases) {
    const k = c.generate_kwargs;
    const opts: GenerateOptions = {
      maxNewTokens: k.max_new_tokens as number,
      doSample: false,
      numBeams: (k.num_beams as number | undefined) ?? 1,
      forcedBosTokenId: (k.forced_bos_token_id as number | undefined) ?? undefined,
      repetitionPenalty: k.repetition_penalty as number | undefined,
      noRepeatNgramSize: k.no_repeat_ngram_size as number | undefined,
      minNewTokens: k.min_new_tokens as number | undefined,
      lengthPenalty: (k.length_penalty as number | undefined) ?? g.length_penalty,
      earlyStopping: (k.early_stopping as boolean | 'never' | undefined) ?? false,
      numReturnSequences: k.num_return_sequences as number | undefined,
      eosTokenId: g.eos_token_id,
      padTokenId: g.pad_token_id,
    };
    const ids = tf.tensor2d(c.input_ids, undefined, 'int32');
    const mask = tf.tensor2d(c.attention_mask, undefined, 'int32');
    const s = new NllbMoeSession(tr.model, ids, mask);
    const r = await generate(s, { inputIds: c.input_ids.map(() => [g.decoder_start_token_id]) }, opts);
    s.dispose();
    tf.dispose([ids, mask]);
    assert.equal(r.sequences, c.expect.sequences, c.name);
    if (c.expect.sequences_scores) {
      c.expect.sequences_scores.forEach((want, i) => {
        const got = r.sequenceScores![i];
        assert.ok(Math.abs(got - want) <= 1e-4 * Math.abs(want), `${c.name} score ${i}: ${got} vs ${want}`);
      });
    }
  }
});

test.run();
