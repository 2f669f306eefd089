/**
 * The HF generate() reference cases in ../shared/fixtures/generate/*.json (FORMAT.md): their
 * types, the GenerateOptions a case's generate_kwargs mean (over the file's generation_config),
 * the check of our result against HF's (ids exact, sequence scores within 1e-4 relative), and
 * running a whole fixture through our generate().
 */
import * as fs from 'node:fs';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import type { GenerateOptions } from '../generation/options.js';
import { generate } from '../generation/generate.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { XGLMDecoderSession } from '../models/xglm/session.js';
import type { XGLMForCausalLM } from '../models/xglm/model.js';
import { fixturePath } from './helpers.js';

export interface HfCase {
  name: string;
  input_ids: number[][];
  attention_mask: number[][];
  generate_kwargs: Record<string, number | boolean | string | null>;
  expect: { sequences: number[][]; sequences_scores: number[] | null };
}

export interface HfDoc {
  generation_config: Record<string, number>;
  cases: HfCase[];
}

export function readHfGenerateDoc(fixture: string): HfDoc {
  return JSON.parse(fs.readFileSync(fixturePath('generate', `${fixture}.json`), 'utf8')) as HfDoc;
}

export function hfGenerateOptions(c: HfCase, doc: HfDoc): GenerateOptions {
  const k = c.generate_kwargs;
  const g = doc.generation_config;
  return {
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
    eosTokenId: (k.eos_token_id as number | undefined) ?? g.eos_token_id,
    padTokenId: g.pad_token_id,
  };
}

export function checkHfCase(c: HfCase, r: { sequences: number[][]; sequenceScores?: number[] }): void {
  assert.equal(r.sequences, c.expect.sequences, c.name);
  c.expect.sequences_scores?.forEach((want, i) => {
    const got = r.sequenceScores![i];
    assert.ok(Math.abs(got - want) <= 1e-4 * Math.abs(want), `${c.name} score ${i}: ${got} vs ${want}`);
  });
}

/** Generates every case of an encoder-decoder fixture (the source as the encoder input) on `model` and checks it. */
export async function checkNllbHfCases(model: ConstructorParameters<typeof NllbMoeSession>[0], doc: HfDoc): Promise<void> {
  for (const c of doc.cases) {
    const ids = tf.tensor2d(c.input_ids, undefined, 'int32');
    const mask = tf.tensor2d(c.attention_mask, undefined, 'int32');
    const s = new NllbMoeSession(model, ids, mask);
    try {
      checkHfCase(c, await generate(s, { inputIds: c.input_ids.map(() => [doc.generation_config.decoder_start_token_id]) }, hfGenerateOptions(c, doc)));
    } finally {
      s.dispose();
      tf.dispose([ids, mask]);
    }
  }
}

/** Generates every case of a decoder-only fixture (the prompt with its attention mask) on `lm` and checks it. */
export async function checkXglmHfCases(lm: XGLMForCausalLM, doc: HfDoc): Promise<void> {
  for (const c of doc.cases) {
    const s = new XGLMDecoderSession(lm, c.attention_mask);
    try {
      checkHfCase(c, await generate(s, { inputIds: c.input_ids }, hfGenerateOptions(c, doc)));
    } finally {
      s.dispose();
    }
  }
}
