/**
 * HF `M2M100Tokenizer` (slow; transformers 4.38-4.44 `models/m2m_100/tokenization_m2m_100.py`),
 * the tokenizer of facebook/m2m100_418M / _1.2B: sentencepiece segments the text, `vocab.json`
 * (not the sentencepiece ids) maps pieces to ids, pieces missing from it become `<unk>`; language
 * tokens `__xx__` follow vocab.json (id len(vocab.json) + i); a source is `[src_lang] ids </s>`, a
 * target (`text_target`) `[tgt_lang] ids </s>`. Decoding joins sentencepiece-decoded runs of
 * pieces with special tokens written as they are, language tokens as separate chunks.
 */
import { PolyglotError } from '../core/errors.js';
import type { AddedToken } from './added-tokens.js';
import { M2M100_LANGUAGE_CODES, m2m100LangToken } from './m2m100-languages.js';
import type { SentencePieceModel } from './sentencepiece.js';
import { FairseqSpmTokenizer, type EncodeOptions, type TokenizerSpec } from './tokenizer.js';

/** The special-token attributes HF keeps (`SPECIAL_TOKENS_ATTRIBUTES` minus the additional list), in its order. */
export interface M2M100SpecialTokens {
  bos: string;
  eos: string;
  unk: string;
  sep: string;
  pad: string;
  cls?: string;
  mask?: string;
}

/** What tokenizers/load.ts read from the model folder. */
export interface M2M100Parts {
  sp: SentencePieceModel;
  /** vocab.json pieces by id (index = id; `readM2M100Vocab` checked 0..N-1). */
  vocab: readonly string[];
  vocabFile: string;
  /** tokenizer_config.json `language_codes` (HF default "m2m100"). */
  languageCodes: 'm2m100' | 'wmt21';
  /** tokenizer_config.json `num_madeup_words` (HF default 8): ids after the language tokens that the model has but the tokenizer never produces. */
  numMadeupWords: number;
  specialTokens: M2M100SpecialTokens;
  /** `additional_special_tokens` as HF's from_pretrained hands them to `__init__`. */
  additionalSpecialTokens: readonly string[];
  /** tokenizer_config.json `added_tokens_decoder` (transformers >= 4.34 saves), if any. */
  addedTokensDecoder?: readonly AddedToken[];
  cleanUpTokenizationSpaces: boolean;
  modelMaxLength?: number;
  srcLang?: string;
  tgtLang?: string;
  /** Where settings came from (tokenizer_config.json, else vocab.json), for messages. */
  source: string;
}

export class M2M100Tokenizer extends FairseqSpmTokenizer {
  readonly kind = 'm2m100' as const;
  /** `len(self.encoder)`: the first language token's id. */
  readonly encoderSize: number;
  readonly numMadeupWords: number;
  readonly languageCodeSet: 'm2m100' | 'wmt21';
  tgtLang?: string;
  private _srcLang = 'en';
  private readonly decoderPieces: readonly string[];
  private readonly encoder: ReadonlyMap<string, number>;
  private readonly langTokenToId: ReadonlyMap<string, number>;
  private readonly idToLangToken: ReadonlyMap<number, string>;
  private readonly unkToken: string;
  private readonly allSpecialTokens: ReadonlySet<string>;
  private readonly fullLength: number;

  private constructor(spec: TokenizerSpec, p: M2M100Parts, tables: M2M100Tables) {
    super(spec);
    this.decoderPieces = p.vocab;
    this.encoder = tables.encoder;
    this.encoderSize = p.vocab.length;
    this.numMadeupWords = p.numMadeupWords;
    this.languageCodeSet = p.languageCodes;
    this.langTokenToId = tables.langTokenToId;
    this.idToLangToken = new Map([...tables.langTokenToId].map(([t, id]) => [id, t]));
    this.unkToken = p.specialTokens.unk;
    this.allSpecialTokens = new Set(tables.allSpecialTokens);
    this.fullLength = tables.length;
    this.tgtLang = p.tgtLang;
    // __init__: self._src_lang = src_lang or "en"; get_lang_id raises for an unknown code.
    this.srcLang = p.srcLang ?? 'en';
  }

  /** Builds the tokenizer as `M2M100Tokenizer.__init__` + `PreTrainedTokenizer.__init__` do (4.38-4.44). */
  static fromParts(p: M2M100Parts): M2M100Tokenizer {
    const tables = m2m100Tables(p);
    const spec: TokenizerSpec = {
      sp: p.sp,
      addedTokens: tables.addedTokens,
      additionalSpecialTokens: [...p.additionalSpecialTokens],
      // vocab_size = len(self.encoder) (4.34+)
      vocabSize: p.vocab.length,
      cleanUpTokenizationSpaces: p.cleanUpTokenizationSpaces,
      modelMaxLength: p.modelMaxLength,
      source: p.source,
      specialTokenIds: tables.specialTokenIds,
      allSpecialIds: tables.allSpecialTokens.map((t) => tables.tokenToId(t)),
      chunkIds: tables.chunkIds,
    };
    return new M2M100Tokenizer(spec, p, tables);
  }

  get srcLang(): string {
    return this._srcLang;
  }

  /** HF's `src_lang` setter (set_src_lang_special_tokens): an unknown code is refused here. */
  set srcLang(code: string) {
    this.langCodeId(code);
    this._srcLang = code;
  }

  /** The language codes of `language_codes` (without the underscores: "en", "fr", ...). */
  get languageCodes(): string[] {
    return [...M2M100_LANGUAGE_CODES[this.languageCodeSet]];
  }

  /** HF `get_lang_token`. */
  langToken(code: string): string {
    return m2m100LangToken(code);
  }

  /** HF `get_lang_id`: the id of a language code ("en" -> len(vocab.json) + 18); throws naming the code when unknown. */
  langCodeId(code: string): number {
    const id = M2M100_LANGUAGE_CODES[this.languageCodeSet].includes(code) ? this.langTokenToId.get(m2m100LangToken(code)) : undefined;
    if (id === undefined) {
      const hint = /^[a-z]{3}_[A-Z][a-z]{3}$/.test(code) ? ' (an NLLB code; M2M-100 uses ISO 639 codes)' : '';
      throw new PolyglotError(`${this.source}: unknown M2M-100 language code "${code}"${hint} (expected one of the ${this.languageCodes.length} language_codes "${this.languageCodeSet}" codes like en, de, zh)`);
    }
    return id;
  }

  /** Alias of `langCodeId`, HF's name. */
  getLangId(code: string): number {
    return this.langCodeId(code);
  }

  /** `len(tokenizer)`: distinct tokens of `get_vocab()` (vocab.json + added tokens). */
  override get length(): number {
    return this.fullLength;
  }

  /** The largest id the tokenizer can produce (the last language token, or the last added token). */
  get maxTokenId(): number {
    let max = this.encoderSize + M2M100_LANGUAGE_CODES[this.languageCodeSet].length - 1;
    for (const id of this.addedById.keys()) max = Math.max(max, id);
    return max;
  }

  /** HF `_convert_token_to_id_with_added_voc` then `_convert_token_to_id`: added tokens, language tokens, vocab.json, else `<unk>`. */
  override tokenToId(token: string): number {
    const added = this.addedByContent.get(token);
    if (added) return added.id;
    return this.langTokenToId.get(token) ?? this.encoder.get(token) ?? this.unkTokenId;
  }

  /** HF `convert_ids_to_tokens` for one id: added tokens, language tokens, vocab.json, else the `<unk>` token (madeup-word ids too). */
  override idToToken(id: number): string {
    if (!Number.isInteger(id)) throw new PolyglotError(`${this.source}: token id ${id} is not an integer`);
    const added = this.addedById.get(id);
    if (added) return added.content;
    return this.idToLangToken.get(id) ?? this.decoderPieces[id] ?? this.unkToken;
  }

  /** HF `convert_tokens_to_string`: runs of pieces through sentencepiece's decode, special tokens written as they are, then strip. */
  override tokensToString(tokens: string[]): string {
    let out = '';
    let run: string[] = [];
    for (const t of tokens) {
      if (this.allSpecialTokens.has(t)) {
        out += this.sp.decodePieces(run) + t;
        run = [];
      } else {
        run.push(t);
      }
    }
    out += this.sp.decodePieces(run);
    return out.trim();
  }

  /** `build_inputs_with_special_tokens`: prefix [lang id], suffix [eos]; a pair is concatenated without separator. */
  protected withSpecialTokens(a: number[], b: number[] | undefined, opts: EncodeOptions): number[] {
    let lang: string | undefined;
    if (opts.asTarget) {
      lang = opts.tgtLang ?? this.tgtLang;
      if (!lang) throw new PolyglotError(`${this.source}: encoding a target text needs tgt_lang (none given, none in tokenizer_config.json)`);
    } else {
      lang = opts.srcLang ?? this.srcLang;
    }
    const code = this.langCodeId(lang);
    return b === undefined ? [code, ...a, this.eosTokenId] : [code, ...a, ...b, this.eosTokenId];
  }
}

interface M2M100Tables {
  encoder: Map<string, number>;
  langTokenToId: Map<string, number>;
  addedTokens: AddedToken[];
  specialTokenIds: { bos: number; pad: number; eos: number; unk: number };
  allSpecialTokens: string[];
  chunkIds: number[];
  length: number;
  tokenToId(token: string): number;
}

/** The id tables `__init__` builds; inconsistent files (a token given two ids) are refused in one line. */
function m2m100Tables(p: M2M100Parts): M2M100Tables {
  const n = p.vocab.length;
  const encoder = new Map<string, number>();
  p.vocab.forEach((piece, id) => encoder.set(piece, id));
  const codes = M2M100_LANGUAGE_CODES[p.languageCodes];
  // self.lang_token_to_id = {get_lang_token(code): encoder_size + i}
  const langTokenToId = new Map(codes.map((c, i) => [m2m100LangToken(c), n + i]));
  for (const t of langTokenToId.keys()) {
    if (encoder.has(t)) throw new PolyglotError(`${p.vocabFile}: has the language token "${t}" (id ${encoder.get(t)}), which M2M100Tokenizer numbers ${langTokenToId.get(t)} (after vocab.json); expected no language tokens in vocab.json`);
  }
  const s = p.specialTokens;
  for (const [what, tok] of [['unk_token', s.unk], ['eos_token', s.eos], ['bos_token', s.bos], ['pad_token', s.pad]] as const) {
    if (!encoder.has(tok)) throw new PolyglotError(`${p.vocabFile}: expected the ${what} "${tok}" in vocab.json, found none (${n} entries)`);
  }
  // PreTrainedTokenizer.__init__: _added_tokens_decoder from added_tokens_decoder, then _add_tokens of every
  // special token not yet added: its vocab id when get_vocab() has it, else len(get_vocab()) + k.
  const addedById = new Map<number, AddedToken>();
  for (const t of p.addedTokensDecoder ?? []) addedById.set(t.id, t);
  const addedByContent = new Map([...addedById.values()].map((t) => [t.content, t]));
  const vocab = new Map<string, number>();
  for (let i = 0; i < n; i++) vocab.set(addedById.get(i)?.content ?? p.vocab[i], i);
  for (const t of addedById.values()) vocab.set(t.content, t.id);
  const newIdx = vocab.size;
  let k = 0;
  const seen = new Set<string>();
  const allSpecialTokens: string[] = [];
  for (const t of [s.bos, s.eos, s.unk, s.sep, s.pad, s.cls, s.mask, ...p.additionalSpecialTokens]) {
    if (t === undefined || t === '' || seen.has(t)) continue;
    seen.add(t);
    allSpecialTokens.push(t);
    if (addedByContent.has(t)) continue;
    let id = vocab.get(t);
    if (id === undefined) {
      id = newIdx + k++;
      vocab.set(t, id);
    }
    const tok: AddedToken = { content: t, id, special: true, lstrip: false, rstrip: false };
    addedById.set(id, tok);
    addedByContent.set(t, tok);
  }
  const where = p.addedTokensDecoder ? `${p.source}: added_tokens_decoder` : `${p.source}: additional_special_tokens`;
  for (const t of addedById.values()) {
    const langId = langTokenToId.get(t.content);
    if (langId !== undefined && langId !== t.id) {
      throw new PolyglotError(`${where} gives "${t.content}" id ${t.id}, but M2M100Tokenizer's get_lang_id gives it ${langId} (len(vocab.json) ${n} + its index in language_codes "${p.languageCodes}"); expected the language tokens in that order right after vocab.json`);
    }
    const otherLang = codes.findIndex((_, i) => n + i === t.id);
    if (langId === undefined && otherLang >= 0) {
      throw new PolyglotError(`${where} gives id ${t.id} to "${t.content}", which is the id of the language token "${m2m100LangToken(codes[otherLang])}"`);
    }
  }
  const tokenToId = (t: string): number => addedByContent.get(t)?.id ?? langTokenToId.get(t) ?? encoder.get(t) ?? encoder.get(s.unk)!;
  // _decode's legacy_added_tokens: added tokens that are not special tokens, plus additional special
  // tokens whose id is >= vocab_size (the language tokens): each decoded as its own chunk.
  const special = new Set(allSpecialTokens);
  const chunkTokens = new Set([...addedByContent.keys()].filter((c) => !special.has(c)));
  for (const t of p.additionalSpecialTokens) if (tokenToId(t) >= n) chunkTokens.add(t);
  const chunkIds = [...chunkTokens].map(tokenToId);
  return {
    encoder,
    langTokenToId,
    addedTokens: [...addedById.values()],
    specialTokenIds: { bos: tokenToId(s.bos), pad: tokenToId(s.pad), eos: tokenToId(s.eos), unk: tokenToId(s.unk) },
    allSpecialTokens,
    chunkIds,
    length: vocab.size,
    tokenToId,
  };
}
