/**
 * generation_config.json -> default GenerateOptions, as HF generate() starts from
 * `model.generation_config`. Explicit options override these defaults.
 */
import { PolyglotError } from '../core/errors.js';
import { MAX_BEAMS, type GenerateOptions } from './options.js';
import type { GenerationConfigFile } from '../models/pretrained.js';
import { readJsonFile } from '../convert/checkpoint.js';
import { findModelFile } from '../convert/model-file.js';

export interface GenerationDefaults extends GenerateOptions {
  decoderStartTokenId?: number;
}

type Kind = 'number' | 'boolean' | 'ids' | 'early';

const FIELDS: [string, keyof GenerationDefaults, Kind][] = [
  ['max_length', 'maxLength', 'number'],
  ['max_new_tokens', 'maxNewTokens', 'number'],
  ['min_length', 'minLength', 'number'],
  ['min_new_tokens', 'minNewTokens', 'number'],
  ['do_sample', 'doSample', 'boolean'],
  ['temperature', 'temperature', 'number'],
  ['top_k', 'topK', 'number'],
  ['top_p', 'topP', 'number'],
  ['num_beams', 'numBeams', 'number'],
  ['length_penalty', 'lengthPenalty', 'number'],
  ['early_stopping', 'earlyStopping', 'early'],
  ['num_return_sequences', 'numReturnSequences', 'number'],
  ['repetition_penalty', 'repetitionPenalty', 'number'],
  ['no_repeat_ngram_size', 'noRepeatNgramSize', 'number'],
  ['forced_bos_token_id', 'forcedBosTokenId', 'number'],
  ['forced_eos_token_id', 'forcedEosTokenId', 'ids'],
  ['eos_token_id', 'eosTokenId', 'ids'],
  ['pad_token_id', 'padTokenId', 'number'],
  ['decoder_start_token_id', 'decoderStartTokenId', 'number'],
];

/** Parsed generation config JSON (null values mean "not set", as in HF). */
export function parseGenerationConfig(json: unknown, source: string): GenerationDefaults {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new PolyglotError(`${source}: expected a JSON object`);
  const j = json as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, field, kind] of FIELDS) {
    const v = j[key];
    if (v === undefined || v === null) continue;
    const bad = (want: string) => new PolyglotError(`${source}: field "${key}": expected ${want}, found ${JSON.stringify(v)}`);
    if (kind === 'number') {
      if (typeof v !== 'number') throw bad('a number');
      if ((key === 'num_beams' || key === 'num_return_sequences') && !(Number.isInteger(v) && v >= 1 && v <= MAX_BEAMS)) {
        throw bad(`an integer from 1 to ${MAX_BEAMS} (each is a decoder row with its own key/value cache)`);
      }
      out[field] = v;
    } else if (kind === 'boolean') {
      if (typeof v !== 'boolean') throw bad('true or false');
      out[field] = v;
    } else if (kind === 'early') {
      if (v !== true && v !== false && v !== 'never') throw bad('true, false or "never"');
      out[field] = v;
    } else {
      if (!(typeof v === 'number' || (Array.isArray(v) && v.every((x) => typeof x === 'number')))) throw bad('a token id or a list of ids');
      out[field] = v;
    }
  }
  return out as GenerationDefaults;
}

/** A loaded model's generation_config.json defaults ({} when its directory had none): what generate() starts from in HF. */
export function modelGenerationDefaults(model: { generationConfig?: GenerationConfigFile }): GenerationDefaults {
  return model.generationConfig ? parseGenerationConfig(model.generationConfig.json, model.generationConfig.source) : {};
}

/** The directory's generation_config.json, or {} when it has none. */
export function readGenerationConfig(dir: string): GenerationDefaults {
  const file = findModelFile(dir, 'generation_config.json');
  if (file === undefined) return {};
  return parseGenerationConfig(readJsonFile(file), file);
}

/** Defaults overlaid with the options that are actually set (undefined does not override). */
export function withDefaults<T extends object>(defaults: Partial<T>, options: T): T {
  const out: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) out[k] = v;
  return out as T;
}
