/**
 * `translate(model, tokenizer, sentences, { srcLang, tgtLang })`: NLLB-MoE / NLLB-200 / M2M-100 translation
 * as HF generate does it for NllbMoe / M2M100ForConditionalGeneration: source encoded `src_lang text </s>`
 * (NllbTokenizer or M2M100Tokenizer),
 * right-padded batches (pad 1, attention mask 0), the encoder run once per batch by the session,
 * decoder prompt [decoder_start_token_id = 2], ForcedBOSTokenLogitsProcessor with the target
 * language id at the first step, stop at eos (2), finished rows padded with 1.
 * Sentences are batched in order of length (less padding) and returned in input order.
 */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { padBatch, type DecodeOptions } from '../tokenizers/tokenizer.js';
import type { TranslationTokenizer } from '../tokenizers/load.js';
import type { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { generate } from './generate.js';
import type { GenerateOptions } from './options.js';
import { modelGenerationDefaults, withDefaults } from './generation-config.js';
import { trimGenerated } from './generate-text.js';

export interface TranslateOptions extends GenerateOptions {
  srcLang: string;
  tgtLang: string;
  /** Sentences per generate call (default 8). */
  batchSize?: number;
  /** Truncate encoded sources to this many tokens (special tokens included). */
  maxInputLength?: number;
  /** Decoder prompt token (default: config.json decoder_start_token_id, 2). */
  decoderStartTokenId?: number;
  /** Batch by length (default true); false keeps input order in the batches. */
  sortByLength?: boolean;
  /** Called after each batch with the number of sentences done. */
  onProgress?: (done: number, total: number) => void;
  decode?: DecodeOptions;
}

export interface Translation {
  /** Index of the source sentence. */
  source: number;
  text: string;
  /** Decoder ids after the decoder start token: target language id, tokens, eos (pads removed). */
  ids: number[];
  score?: number;
}

export async function translate(
  model: NllbMoeForConditionalGeneration,
  tokenizer: TranslationTokenizer,
  sentences: readonly string[],
  explicit: TranslateOptions,
): Promise<Translation[]> {
  // HF generate() starts from model.generation_config (generation_config.json); explicit options win.
  const options = withDefaults<TranslateOptions>(modelGenerationDefaults(model), explicit);
  const { srcLang, tgtLang, decoderStartTokenId, batchSize = 8, maxInputLength, sortByLength = true, onProgress, decode: decodeOpts, ...genOpts } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PolyglotError(`translate: batchSize must be an integer >= 1, found ${batchSize}`);
  const cfg = model.config;
  const tgtId = tokenizer.langCodeId(tgtLang);
  tokenizer.langCodeId(srcLang); // unknown source code: the same clear error before any work
  const eos = genOpts.eosTokenId === undefined ? [cfg.eosTokenId] : genOpts.eosTokenId === null ? [] : Array.isArray(genOpts.eosTokenId) ? genOpts.eosTokenId : [genOpts.eosTokenId];
  const pad = genOpts.padTokenId ?? cfg.padTokenId;
  const encoded = sentences.map((s) => tokenizer.encode(s, { srcLang, maxLength: maxInputLength }));
  const order = encoded.map((_, i) => i);
  if (sortByLength) order.sort((a, b) => encoded[b].length - encoded[a].length || a - b);
  const out: Translation[] = [];
  let done = 0;
  for (let start = 0; start < order.length; start += batchSize) {
    const idx = order.slice(start, start + batchSize);
    const enc = padBatch(
      idx.map((i) => encoded[i]),
      { padId: pad, side: 'right' },
    );
    const ids = tf.tensor2d(enc.inputIds, enc.shape, 'int32');
    const mask = tf.tensor2d(enc.attentionMask, enc.shape, 'int32');
    let session;
    try {
      session = new NllbMoeSession(model, ids, mask);
    } finally {
      ids.dispose();
      mask.dispose();
    }
    let res;
    try {
      res = await generate(session, { inputIds: idx.map(() => [decoderStartTokenId ?? cfg.decoderStartTokenId]) }, {
        ...genOpts,
        // no length given: 200 new tokens (the max_length of the NLLB checkpoints' generation_config.json)
        maxNewTokens: genOpts.maxNewTokens ?? (genOpts.maxLength === undefined ? 200 : undefined),
        forcedBosTokenId: genOpts.forcedBosTokenId ?? tgtId,
        eosTokenId: eos,
        padTokenId: pad,
      });
    } finally {
      session.dispose();
    }
    const per = res.sequences.length / idx.length;
    res.sequences.forEach((seq, j) => {
      const gen = trimGenerated(seq.slice(1), eos, pad);
      out.push({
        source: idx[Math.floor(j / per)],
        text: tokenizer.decode(gen, { skipSpecialTokens: true, ...decodeOpts }),
        ids: gen,
        score: res.sequenceScores?.[j],
      });
    });
    done += idx.length;
    onProgress?.(done, sentences.length);
  }
  // input order; the k outputs of one sentence keep their rank order (stable sort)
  return out.sort((a, b) => a.source - b.source);
}
