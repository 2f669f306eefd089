/**
 * `loadTokenizer(dir)`: builds the XGLM or NLLB tokenizer of a model directory from
 * sentencepiece.bpe.model + tokenizer_config.json (+ special_tokens_map.json), choosing by
 * tokenizer_config.json `tokenizer_class`, else `fallbackKind` (models/registry.ts
 * `loadPretrainedTokenizer` passes the one of config.json's model_type).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { readJsonFile } from '../convert/checkpoint.js';
import { findModelFile } from '../convert/model-file.js';
import type { AddedToken } from './added-tokens.js';
import { NllbTokenizer } from './nllb.js';
import { SentencePieceModel } from './sentencepiece.js';
import type { TokenizerSpec } from './tokenizer.js';
import { XGLMTokenizer } from './xglm.js';

export type Tokenizer = XGLMTokenizer | NllbTokenizer;

export interface LoadTokenizerOptions {
  /** Force the family instead of reading it from tokenizer_config.json. */
  kind?: 'xglm' | 'nllb';
  /** The family when tokenizer_config.json names no tokenizer_class (models/registry.ts passes the model_type's). */
  fallbackKind?: 'xglm' | 'nllb';
  srcLang?: string;
  tgtLang?: string;
  legacyBehaviour?: boolean;
}

type Json = Record<string, unknown>;

/** A JSON object file of the model folder, or undefined when the folder has none. */
function readOptionalJson(dir: string, name: string): Json | undefined {
  const file = findModelFile(dir, name);
  if (file === undefined) return undefined;
  const v = readJsonFile(file);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolyglotError(`${file}: expected a JSON object, found ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v as Json;
}

/** A token entry of tokenizer_config.json / special_tokens_map.json: a string or `{content, ...}`. */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/** The family tokenizer_config.json's `tokenizer_class` names; an unknown class is an error whatever the caller wants. */
function kindFromClass(dir: string, tokConfig: Json | undefined): 'xglm' | 'nllb' | undefined {
  const cls = tokConfig?.tokenizer_class;
  if (cls === undefined || cls === null) return undefined;
  if (typeof cls === 'string') {
    if (/^XGLMTokenizer(Fast)?$/.test(cls)) return 'xglm';
    if (/^NllbTokenizer(Fast)?$/.test(cls)) return 'nllb';
  }
  throw new PolyglotError(`${path.join(dir, 'tokenizer_config.json')}: tokenizer_class ${JSON.stringify(cls)} is not supported (expected XGLMTokenizer or NllbTokenizer)`);
}

/** Parses `added_tokens_decoder` ({"id": {content, special, lstrip, rstrip}}) into added tokens. */
export function parseAddedTokensDecoder(v: unknown, source: string): AddedToken[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolyglotError(`${source}: added_tokens_decoder: expected an object of id -> token, found ${JSON.stringify(v)?.slice(0, 40)}`);
  return Object.entries(v as Json).map(([k, t]) => {
    const id = Number(k);
    const e = t as Json;
    if (!Number.isInteger(id) || id < 0 || typeof e?.content !== 'string') {
      throw new PolyglotError(`${source}: added_tokens_decoder["${k}"]: expected an integer id and {"content": string}, found ${JSON.stringify(t)?.slice(0, 60)}`);
    }
    return { content: e.content, id, special: e.special !== false, lstrip: e.lstrip === true, rstrip: e.rstrip === true };
  });
}

export async function loadTokenizer(modelDir: string, opts: LoadTokenizerOptions = {}): Promise<Tokenizer> {
  const dir = path.resolve(modelDir);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new PolyglotError(`${modelDir}: not a directory`);
  const spPath = findModelFile(dir, 'sentencepiece.bpe.model');
  if (spPath === undefined) throw new PolyglotError(`${modelDir}: expected sentencepiece.bpe.model (the tokenizer), found none`);
  const tcPath = path.join(dir, 'tokenizer_config.json');
  const tokConfig = readOptionalJson(dir, 'tokenizer_config.json');
  const stMap = readOptionalJson(dir, 'special_tokens_map.json');
  // One validation for every command: the class is checked even when the caller knows the family.
  const named = kindFromClass(dir, tokConfig);
  const needed = opts.kind ?? opts.fallbackKind; // the registry's family for the model_type must agree with the class
  if (needed !== undefined && named !== undefined && named !== needed) {
    throw new PolyglotError(`${tcPath}: tokenizer_class ${JSON.stringify(tokConfig?.tokenizer_class)} is not the ${needed === 'xglm' ? 'XGLMTokenizer' : 'NllbTokenizer'} this model needs`);
  }
  const kind = opts.kind ?? named ?? opts.fallbackKind;
  if (kind === undefined) throw new PolyglotError(`${dir}: cannot tell the tokenizer: expected tokenizer_config.json with a tokenizer_class, or config.json with the model_type of a supported model, found neither`);
  const sp = await SentencePieceModel.load(spPath);
  const source = tokConfig ? tcPath : spPath;
  const spec: TokenizerSpec = kind === 'xglm' ? XGLMTokenizer.defaultSpec(sp, source) : NllbTokenizer.defaultSpec(sp, source);
  if (tokConfig?.added_tokens_decoder !== undefined) {
    const decoded = parseAddedTokensDecoder(tokConfig.added_tokens_decoder, tcPath);
    // Entries override the defaults by content; ids follow the checkpoint.
    const byContent = new Map(spec.addedTokens.map((t) => [t.content, t]));
    for (const t of decoded) byContent.set(t.content, t);
    spec.addedTokens = [...byContent.values()];
    const ids = new Map<number, string>();
    for (const t of spec.addedTokens) {
      const prev = ids.get(t.id);
      if (prev !== undefined) throw new PolyglotError(`${tcPath}: added_tokens_decoder gives id ${t.id} to "${t.content}", which the ${kind} defaults give to "${prev}"`);
      ids.set(t.id, t.content);
    }
  }
  const additional = tokConfig?.additional_special_tokens ?? stMap?.additional_special_tokens;
  if (Array.isArray(additional)) {
    spec.additionalSpecialTokens = additional.map(tokenContent).filter((s): s is string => s !== undefined);
  }
  if (typeof tokConfig?.clean_up_tokenization_spaces === 'boolean') spec.cleanUpTokenizationSpaces = tokConfig.clean_up_tokenization_spaces;
  const mml = tokConfig?.model_max_length;
  if (typeof mml === 'number' && mml < 1e12) spec.modelMaxLength = mml;
  if (kind === 'xglm') return new XGLMTokenizer(spec);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return new NllbTokenizer(spec, {
    srcLang: opts.srcLang ?? str(tokConfig?.src_lang) ?? 'eng_Latn',
    tgtLang: opts.tgtLang ?? str(tokConfig?.tgt_lang),
    legacyBehaviour: opts.legacyBehaviour ?? (tokConfig?.legacy_behaviour === true),
  });
}

/** A tokenizer straight from a sentencepiece model file plus an optional `added_tokens_decoder` (fixtures, tests). */
export async function tokenizerFromModel(
  spPath: string,
  kind: 'xglm' | 'nllb',
  opts: { addedTokensDecoder?: unknown; srcLang?: string; tgtLang?: string; legacyBehaviour?: boolean; cleanUpTokenizationSpaces?: boolean } = {},
): Promise<Tokenizer> {
  const sp = await SentencePieceModel.load(spPath);
  const spec = kind === 'xglm' ? XGLMTokenizer.defaultSpec(sp, spPath) : NllbTokenizer.defaultSpec(sp, spPath);
  if (opts.addedTokensDecoder !== undefined) {
    const byContent = new Map(spec.addedTokens.map((t) => [t.content, t]));
    for (const t of parseAddedTokensDecoder(opts.addedTokensDecoder, spPath)) byContent.set(t.content, t);
    spec.addedTokens = [...byContent.values()];
  }
  if (opts.cleanUpTokenizationSpaces !== undefined) spec.cleanUpTokenizationSpaces = opts.cleanUpTokenizationSpaces;
  if (kind === 'xglm') return new XGLMTokenizer(spec);
  return new NllbTokenizer(spec, { srcLang: opts.srcLang, tgtLang: opts.tgtLang, legacyBehaviour: opts.legacyBehaviour });
}
