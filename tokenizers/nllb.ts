/**
 * HF `NllbTokenizer` (slow): `src_lang A </s>` (legacy_behaviour: `A </s> src_lang`), pairs
 * `src_lang A B </s>`, `text_target` with `tgt_lang`; 202 language codes then `<mask>` after the
 * sentencepiece vocabulary. Language codes are decoded as separate chunks (transformers' `_decode`).
 */
import { PolyglotError } from '../core/errors.js';
import { FairseqSpmTokenizer, EOS_ID, FAIRSEQ_OFFSET, type EncodeOptions, type TokenizerSpec } from './tokenizer.js';
import type { AddedToken } from './added-tokens.js';
import { NLLB_LANGUAGE_CODES } from './nllb-languages.js';
import type { SentencePieceModel } from './sentencepiece.js';

export interface NllbSettings {
  srcLang: string;
  tgtLang?: string;
  legacyBehaviour: boolean;
}

export class NllbTokenizer extends FairseqSpmTokenizer {
  readonly kind = 'nllb' as const;
  srcLang: string;
  tgtLang?: string;
  legacyBehaviour: boolean;

  constructor(spec: TokenizerSpec, settings: Partial<NllbSettings> = {}) {
    super(spec);
    this.srcLang = settings.srcLang ?? 'eng_Latn';
    this.tgtLang = settings.tgtLang;
    this.legacyBehaviour = settings.legacyBehaviour ?? false;
  }

  /** Language codes this tokenizer knows (added tokens that look like `xxx_Xxxx`). */
  get languageCodes(): string[] {
    return [...this.addedByContent.keys()].filter((c) => /^[a-z]{3}_[A-Z][a-z]{3}$/.test(c));
  }

  /** The id of a language code; throws naming the code when the tokenizer does not have it. */
  langCodeId(code: string): number {
    const t = this.addedByContent.get(code);
    if (!t) throw new PolyglotError(`${this.source}: unknown NLLB language code "${code}" (expected one of ${this.languageCodes.length} codes like eng_Latn, fra_Latn, zho_Hans)`);
    return t.id;
  }

  protected withSpecialTokens(a: number[], b: number[] | undefined, opts: EncodeOptions): number[] {
    let lang: string | undefined;
    if (opts.asTarget) {
      lang = opts.tgtLang ?? this.tgtLang;
      if (!lang) throw new PolyglotError(`${this.source}: encoding a target text needs tgt_lang (none given, none in tokenizer_config.json)`);
    } else {
      lang = opts.srcLang ?? this.srcLang;
    }
    const code = this.langCodeId(lang);
    const body = b === undefined ? a : [...a, ...b];
    // set_src_lang_special_tokens / set_tgt_lang_special_tokens
    return this.legacyBehaviour ? [...body, EOS_ID, code] : [code, ...body, EOS_ID];
  }

  /**
   * Added tokens for a bare sentencepiece model, laid out as in the real checkpoints
   * (language code i at sp_size + 1 + i, `<mask>` last). transformers >= 4.38 without an
   * `added_tokens_decoder` would put `<mask>` first instead (PR #27717); checkpoints carry one.
   */
  static defaultSpec(sp: SentencePieceModel, source: string): TokenizerSpec {
    const no = { lstrip: false, rstrip: false };
    const specials: AddedToken[] = ['<s>', '<pad>', '</s>', '<unk>'].map((content, id) => ({ content, id, special: true, ...no }));
    const base = sp.size + FAIRSEQ_OFFSET;
    const langs = NLLB_LANGUAGE_CODES.map((content, i) => ({ content, id: base + i, special: true, ...no }));
    const mask: AddedToken = { content: '<mask>', id: base + NLLB_LANGUAGE_CODES.length, special: true, lstrip: true, rstrip: false };
    return {
      sp,
      addedTokens: [...specials, ...langs, mask],
      additionalSpecialTokens: [...NLLB_LANGUAGE_CODES],
      vocabSize: base,
      cleanUpTokenizationSpaces: true,
      source,
    };
  }
}
