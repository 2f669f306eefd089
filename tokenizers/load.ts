/**
 * `loadTokenizer(dir)`: builds the XGLM, NLLB or M2M-100 tokenizer of a model directory from
 * sentencepiece.bpe.model (+ vocab.json for M2M-100) + tokenizer_config.json (+ special_tokens_map.json),
 * choosing by tokenizer_config.json `tokenizer_class`, else config.json's `tokenizer_class`, else
 * the model_type's family (models/registry.ts `loadPretrainedTokenizer` passes the families a
 * model_type accepts; for m2m_100 a folder with vocab.json is M2M-100's, as HF's default for it).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { readJsonFile } from '../convert/checkpoint.js';
import { findModelFile } from '../convert/model-file.js';
import type { AddedToken } from './added-tokens.js';
import { M2M100Tokenizer, type M2M100SpecialTokens } from './m2m100.js';
import { readM2M100Vocab } from './m2m100-vocab.js';
import { NllbTokenizer } from './nllb.js';
import { SentencePieceModel } from './sentencepiece.js';
import type { TokenizerSpec } from './tokenizer.js';
import { XGLMTokenizer } from './xglm.js';

export type Tokenizer = XGLMTokenizer | NllbTokenizer | M2M100Tokenizer;
/** The tokenizers of translation models: source `[lang] text </s>`, `text_target` with the target language, `langCodeId(code)`. */
export type TranslationTokenizer = NllbTokenizer | M2M100Tokenizer;
/** A tokenizer family (HF class without `Fast`). */
export type TokenizerKind = Tokenizer['kind'];

const CLASS_OF: Record<TokenizerKind, string> = { xglm: 'XGLMTokenizer', nllb: 'NllbTokenizer', m2m100: 'M2M100Tokenizer' };

/** Whether a tokenizer is one of the translation tokenizers (NLLB, M2M-100). */
export function isTranslationTokenizer(t: Tokenizer): t is TranslationTokenizer {
  return t.kind === 'nllb' || t.kind === 'm2m100';
}

/**
 * Refuses a tokenizer that produces ids the model has no embedding row for (HF would fail in the
 * embedding lookup): e.g. an M2M-100 vocab.json longer than config.json `vocab_size` allows.
 */
export function checkTokenizerFitsModel(tok: Tokenizer, modelVocabSize: number, dir: string): void {
  const maxId = tok instanceof M2M100Tokenizer ? tok.maxTokenId : tok.length - 1;
  if (maxId >= modelVocabSize) {
    const what = tok instanceof M2M100Tokenizer ? `vocab.json's ${tok.encoderSize} entries + ${tok.languageCodes.length} language tokens` : `${tok.length} tokens`;
    throw new PolyglotError(`${dir}: the tokenizer's ids run to ${maxId} (${what}), but config.json vocab_size is ${modelVocabSize}; expected a tokenizer that fits the model`);
  }
}

export interface LoadTokenizerOptions {
  /** Force the family instead of reading it from tokenizer_config.json. */
  kind?: TokenizerKind;
  /** The family when neither tokenizer_config.json nor config.json names a tokenizer_class (models/registry.ts passes the model_type's). */
  fallbackKind?: TokenizerKind;
  /** The families the model accepts (default: just `kind` / `fallbackKind`); a tokenizer_class naming another is refused. */
  allowedKinds?: readonly TokenizerKind[];
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

/** The family a `tokenizer_class` names (tokenizer_config.json or config.json); an unknown class is an error whatever the caller wants. */
function kindFromClass(file: string, cls: unknown): TokenizerKind | undefined {
  if (cls === undefined || cls === null) return undefined;
  if (typeof cls === 'string') {
    if (/^XGLMTokenizer(Fast)?$/.test(cls)) return 'xglm';
    if (/^NllbTokenizer(Fast)?$/.test(cls)) return 'nllb';
    if (/^M2M100Tokenizer$/.test(cls)) return 'm2m100';
  }
  throw new PolyglotError(`${file}: tokenizer_class ${JSON.stringify(cls)?.slice(0, 80)} is not supported (expected XGLMTokenizer, NllbTokenizer or M2M100Tokenizer)`);
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
  // HF's AutoTokenizer: tokenizer_config.json's class, else config.json's, else the model_type's.
  let named = kindFromClass(tcPath, tokConfig?.tokenizer_class);
  let namedIn = tcPath;
  if (named === undefined && tokConfig?.tokenizer_class == null) {
    const config = readOptionalJson(dir, 'config.json');
    namedIn = path.join(dir, 'config.json');
    named = kindFromClass(namedIn, config?.tokenizer_class);
  }
  const allowed = opts.kind !== undefined ? [opts.kind] : opts.allowedKinds ?? (opts.fallbackKind !== undefined ? [opts.fallbackKind] : undefined);
  if (allowed !== undefined && named !== undefined && !allowed.includes(named)) {
    const cls = namedIn === tcPath ? tokConfig?.tokenizer_class : CLASS_OF[named];
    throw new PolyglotError(`${namedIn}: tokenizer_class ${JSON.stringify(cls)} is not the ${allowed.map((k) => CLASS_OF[k]).join(' or ')} this model needs`);
  }
  // No class named: HF's default for m2m_100 is M2M100Tokenizer, whose files include vocab.json (NLLB-200 folders have none).
  const byFiles = allowed?.includes('m2m100') && findModelFile(dir, 'vocab.json') !== undefined ? 'm2m100' : undefined;
  const kind = opts.kind ?? named ?? byFiles ?? opts.fallbackKind ?? allowed?.[0];
  if (kind === undefined) throw new PolyglotError(`${dir}: cannot tell the tokenizer: expected tokenizer_config.json with a tokenizer_class, or config.json with the model_type of a supported model, found neither`);
  if (kind === 'm2m100') return loadM2M100Tokenizer(dir, spPath, tokConfig, stMap, opts);
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
      if (prev !== undefined) throw new PolyglotError(`${tcPath}: added_tokens_decoder gives id ${t.id} to "${t.content}", which the ${CLASS_OF[kind]} defaults give to "${prev}"`);
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

/** `sp_model_kwargs` (SentencePieceProcessor options) that leave `encode(text, out_type=str)` as it is, with those defaults. */
const NEUTRAL_SP_KWARGS: Record<string, unknown> = { enable_sampling: false, add_bos: false, add_eos: false, reverse: false, emit_unk_piece: false };
const IGNORED_SP_KWARGS = new Set(['nbest_size', 'alpha', 'num_threads']);

/** Refuses `sp_model_kwargs` that would change HF's segmentation (subword sampling, bos/eos pieces, reversal). */
function checkSpModelKwargs(v: unknown, file: string): void {
  if (v === undefined || v === null) return;
  if (typeof v !== 'object' || Array.isArray(v)) throw new PolyglotError(`${file}: sp_model_kwargs: expected an object, found ${JSON.stringify(v)?.slice(0, 40)}`);
  for (const [k, x] of Object.entries(v as Json)) {
    if (IGNORED_SP_KWARGS.has(k)) continue; // only used while sampling, which stays off
    if (k in NEUTRAL_SP_KWARGS && x === NEUTRAL_SP_KWARGS[k]) continue;
    throw new PolyglotError(`${file}: sp_model_kwargs.${k} = ${JSON.stringify(x)?.slice(0, 40)} is not supported (expected {} or only ${Object.entries(NEUTRAL_SP_KWARGS).map(([a, b]) => `${a}: ${b}`).join(', ')}: subword sampling and extra pieces are not implemented)`);
  }
}

/** Special-token attributes of tokenizer_config.json, overridden by special_tokens_map.json where that is read (HF's legacy path). */
function m2m100SpecialTokens(tokConfig: Json | undefined, stMap: Json | undefined, file: string): M2M100SpecialTokens {
  const pick = (key: string, dflt: string | undefined): string | undefined => {
    const raw = stMap?.[key] ?? tokConfig?.[key];
    if (raw === undefined || raw === null) return dflt;
    const c = tokenContent(raw);
    if (c === undefined) throw new PolyglotError(`${file}: ${key}: expected a string or {"content": string}, found ${JSON.stringify(raw)?.slice(0, 40)}`);
    return c;
  };
  return { bos: pick('bos_token', '<s>')!, eos: pick('eos_token', '</s>')!, unk: pick('unk_token', '<unk>')!, sep: pick('sep_token', '</s>')!, pad: pick('pad_token', '<pad>')!, cls: pick('cls_token', undefined), mask: pick('mask_token', undefined) };
}

function tokenList(v: unknown, file: string, key: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new PolyglotError(`${file}: ${key}: expected a list of tokens, found ${JSON.stringify(v)?.slice(0, 40)}`);
  return v.map((t, i) => {
    const c = tokenContent(t);
    if (c === undefined) throw new PolyglotError(`${file}: ${key}[${i}]: expected a string or {"content": string}, found ${JSON.stringify(t)?.slice(0, 40)}`);
    return c;
  });
}

/**
 * M2M100Tokenizer as `from_pretrained` builds it (transformers 4.38-4.44): with an `added_tokens_decoder`
 * in tokenizer_config.json everything comes from that file; without one (the facebook/m2m100_* repos),
 * special_tokens_map.json overrides its special tokens and adds to `additional_special_tokens`.
 */
async function loadM2M100Tokenizer(dir: string, spPath: string, tokConfig: Json | undefined, stMap: Json | undefined, opts: LoadTokenizerOptions): Promise<M2M100Tokenizer> {
  const tcPath = path.join(dir, 'tokenizer_config.json');
  const vocabFile = findModelFile(dir, 'vocab.json');
  if (vocabFile === undefined) throw new PolyglotError(`${dir}: expected vocab.json (M2M100Tokenizer's piece -> id map beside sentencepiece.bpe.model), found none`);
  const vocab = readM2M100Vocab(vocabFile);
  const hasDecoder = tokConfig?.added_tokens_decoder !== undefined;
  const legacyMap = hasDecoder ? undefined : stMap;
  const additional = tokenList(tokConfig?.additional_special_tokens, tcPath, 'additional_special_tokens');
  for (const t of tokenList(legacyMap?.additional_special_tokens, path.join(dir, 'special_tokens_map.json'), 'additional_special_tokens')) {
    if (!additional.includes(t)) additional.push(t);
  }
  const languageCodes = tokConfig?.language_codes ?? 'm2m100';
  if (languageCodes !== 'm2m100' && languageCodes !== 'wmt21') throw new PolyglotError(`${tcPath}: language_codes: expected "m2m100" or "wmt21", found ${JSON.stringify(languageCodes)?.slice(0, 40)}`);
  const madeup = tokConfig?.num_madeup_words ?? 8;
  if (typeof madeup !== 'number' || !Number.isInteger(madeup) || madeup < 0) throw new PolyglotError(`${tcPath}: num_madeup_words: expected an integer >= 0, found ${JSON.stringify(madeup)?.slice(0, 40)}`);
  checkSpModelKwargs(tokConfig?.sp_model_kwargs, tcPath);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const mml = tokConfig?.model_max_length;
  const sp = await SentencePieceModel.load(spPath);
  return M2M100Tokenizer.fromParts({
    sp,
    vocab,
    vocabFile,
    languageCodes,
    numMadeupWords: madeup,
    specialTokens: m2m100SpecialTokens(tokConfig, legacyMap, tokConfig ? tcPath : vocabFile),
    additionalSpecialTokens: additional,
    addedTokensDecoder: hasDecoder ? parseAddedTokensDecoder(tokConfig?.added_tokens_decoder, tcPath) : undefined,
    cleanUpTokenizationSpaces: typeof tokConfig?.clean_up_tokenization_spaces === 'boolean' ? tokConfig.clean_up_tokenization_spaces : true,
    modelMaxLength: typeof mml === 'number' && mml < 1e12 ? mml : undefined,
    srcLang: opts.srcLang ?? str(tokConfig?.src_lang),
    tgtLang: opts.tgtLang ?? str(tokConfig?.tgt_lang),
    source: tokConfig ? tcPath : vocabFile,
  });
}
