/**
 * What XGLMTokenizer and NllbTokenizer share: transformers' slow-tokenizer behaviour over a
 * fairseq-style sentencepiece vocabulary (ids 0-3 = `<s> <pad> </s> <unk>`, sentencepiece
 * piece i >= 3 -> i + 1, sentencepiece `<unk>` -> 3), added tokens split out of the text
 * first, decode with HF's chunking of added tokens and `clean_up_tokenization`.
 */
import { PolyglotError } from '../core/errors.js';
import { splitOnAddedTokens, type AddedToken } from './added-tokens.js';
import { cleanUpTokenization } from './cleanup.js';
import type { SentencePieceModel } from './sentencepiece.js';

/** fairseq's dictionary puts 4 specials first; sentencepiece's own 3 control pieces shift by one. */
/**
 * Longest text one call tokenizes: sentencepiece-js copies the text into its wasm heap and
 * segments it at once, which aborts the whole process for lines of tens of MB; real sentences
 * and documents are far shorter.
 */
export const MAX_TEXT_CHARS = 1 << 18;

/** Throws a PolyglotError naming `where` (file:line, or the option) when `text` is past MAX_TEXT_CHARS. */
export function checkTextLength(text: string, where: string): void {
  if (text.length > MAX_TEXT_CHARS) throw new PolyglotError(`${where}: text of ${text.length} characters is longer than the ${MAX_TEXT_CHARS}-character limit of one tokenizer call (split it)`);
}

export const FAIRSEQ_OFFSET = 1;
export const BOS_ID = 0;
export const PAD_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;
const FAIRSEQ_SPECIALS = ['<s>', '<pad>', '</s>', '<unk>'];

export interface EncodeOptions {
  /** Second sequence of a pair (`text_pair`). */
  textPair?: string;
  /** Add BOS/EOS/language codes (HF `add_special_tokens`, default true). */
  addSpecialTokens?: boolean;
  /** NLLB: source language code (default: the tokenizer's `src_lang`). */
  srcLang?: string;
  /** NLLB: target language code (default: the tokenizer's `tgt_lang`). */
  tgtLang?: string;
  /** NLLB: encode as `text_target` (target language code instead of the source one). */
  asTarget?: boolean;
  /** Truncate to this many ids in total, special tokens included (HF `truncation=True, max_length`). */
  maxLength?: number;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  /** Default: the tokenizer's `clean_up_tokenization_spaces` (tokenizer_config.json; true when absent, as transformers <= 4.44). */
  cleanUpTokenizationSpaces?: boolean;
  /** Join added-token chunks with a space (HF default true). */
  spacesBetweenSpecialTokens?: boolean;
}

export interface BatchEncodeOptions extends EncodeOptions {
  /** `longest` (default) pads to the longest row; `max_length` pads to maxLength. */
  padding?: 'longest' | 'max_length';
  /** Which side padding goes (HF `padding_side`, default right; left for generation). */
  paddingSide?: 'left' | 'right';
  /** Pairs, one per text, when encoding pairs. */
  textPairs?: string[];
}

/** A padded batch as plain typed arrays, row-major [batch, length]. */
export interface BatchEncoding {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  shape: [number, number];
  /** Unpadded length of each row. */
  lengths: number[];
}

export interface TokenizerSpec {
  sp: SentencePieceModel;
  /** Added tokens by id (HF `added_tokens_decoder`). */
  addedTokens: AddedToken[];
  /** Contents of `additional_special_tokens`. */
  additionalSpecialTokens: string[];
  /** HF `vocab_size` (not counting added tokens beyond it). */
  vocabSize: number;
  cleanUpTokenizationSpaces: boolean;
  modelMaxLength?: number;
  /** Where the spec came from (for messages). */
  source: string;
  /** Ids of `<s> <pad> </s> <unk>` (default: fairseq's 0 1 2 3). */
  specialTokenIds?: { bos: number; pad: number; eos: number; unk: number };
  /** HF `all_special_ids` (default: the added tokens marked special). */
  allSpecialIds?: readonly number[];
  /** Ids decoded as their own chunks (default: transformers 4.38-4.44 `_decode`'s legacy added tokens, below). */
  chunkIds?: readonly number[];
}

export abstract class FairseqSpmTokenizer {
  abstract readonly kind: 'xglm' | 'nllb' | 'm2m100';
  readonly sp: SentencePieceModel;
  readonly vocabSize: number;
  readonly cleanUpTokenizationSpaces: boolean;
  readonly modelMaxLength?: number;
  readonly source: string;
  readonly bosTokenId: number;
  readonly padTokenId: number;
  readonly eosTokenId: number;
  readonly unkTokenId: number;
  protected readonly addedByContent = new Map<string, AddedToken>();
  protected readonly addedById = new Map<number, AddedToken>();
  /** HF `all_special_ids`: dropped by decode(skip_special_tokens=True). */
  readonly specialIds: ReadonlySet<number>;
  /** HF `legacy_added_tokens` in `_decode`: emitted as their own space-separated chunks. */
  protected readonly chunkIds: ReadonlySet<number>;

  constructor(spec: TokenizerSpec) {
    this.sp = spec.sp;
    this.vocabSize = spec.vocabSize;
    this.cleanUpTokenizationSpaces = spec.cleanUpTokenizationSpaces;
    this.modelMaxLength = spec.modelMaxLength;
    this.source = spec.source;
    const ids = spec.specialTokenIds ?? { bos: BOS_ID, pad: PAD_ID, eos: EOS_ID, unk: UNK_ID };
    this.bosTokenId = ids.bos;
    this.padTokenId = ids.pad;
    this.eosTokenId = ids.eos;
    this.unkTokenId = ids.unk;
    for (const t of spec.addedTokens) {
      this.addedByContent.set(t.content, t);
      this.addedById.set(t.id, t);
    }
    this.specialIds = new Set(spec.allSpecialIds ?? spec.addedTokens.filter((t) => t.special).map((t) => t.id));
    const additional = new Set(spec.additionalSpecialTokens);
    // transformers 4.38-4.44 `_decode`: added tokens that are not special, plus additional special tokens
    // with id >= vocab_size (NLLB language codes), are decoded as separate chunks.
    this.chunkIds = new Set(spec.chunkIds ?? spec.addedTokens.filter((t) => !t.special || (additional.has(t.content) && t.id >= this.vocabSize)).map((t) => t.id));
  }

  /** `len(tokenizer)`: ids run 0..length-1. */
  get length(): number {
    let max = this.sp.size + FAIRSEQ_OFFSET - 1;
    for (const id of this.addedById.keys()) max = Math.max(max, id);
    return max + 1;
  }

  /** HF `tokenize(text)`: added tokens kept whole, every other fragment sentencepiece-encoded separately. */
  tokenize(text: string): string[] {
    checkTextLength(text, 'tokenizer input');
    const out: string[] = [];
    for (const f of splitOnAddedTokens(text, this.addedByContent)) {
      if ('token' in f) out.push(f.token.content);
      // A loop, not push(...pieces): spreading a huge array into a call overflows the stack.
      else for (const piece of this.sp.encodePieces(f.text)) out.push(piece);
    }
    return out;
  }

  /** HF `convert_tokens_to_ids`. */
  convertTokensToIds(tokens: string[]): number[] {
    return tokens.map((t) => this.tokenToId(t));
  }

  tokenToId(token: string): number {
    const added = this.addedByContent.get(token);
    if (added) return added.id;
    const fi = FAIRSEQ_SPECIALS.indexOf(token);
    if (fi >= 0) return fi;
    const spm = this.sp.pieceToId(token);
    return spm ? spm + FAIRSEQ_OFFSET : UNK_ID;
  }

  /** HF `convert_ids_to_tokens` (unknown characters become `<unk>` here). */
  convertIdsToTokens(ids: ArrayLike<number>, skipSpecialTokens = false): string[] {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (skipSpecialTokens && this.specialIds.has(id)) continue;
      out.push(this.idToToken(id));
    }
    return out;
  }

  idToToken(id: number): string {
    const added = this.addedById.get(id);
    if (added) return added.content;
    if (Number.isInteger(id) && id >= 0 && id < FAIRSEQ_SPECIALS.length) return FAIRSEQ_SPECIALS[id];
    const spm = id - FAIRSEQ_OFFSET;
    if (!Number.isInteger(id) || spm < 0 || spm >= this.sp.size) {
      throw new PolyglotError(`${this.source}: token id ${id} is out of range (expected 0..${this.length - 1})`);
    }
    return this.sp.idToPiece(spm);
  }

  /** Ids of `text` without special tokens. */
  textToIds(text: string): number[] {
    return this.convertTokensToIds(this.tokenize(text));
  }

  /** The special ids around a (pair of) id sequence(s) (HF `build_inputs_with_special_tokens`). */
  protected abstract withSpecialTokens(a: number[], b: number[] | undefined, opts: EncodeOptions): number[];

  /** HF `num_special_tokens_to_add`. */
  numSpecialTokensToAdd(pair: boolean, opts: EncodeOptions = {}): number {
    return this.withSpecialTokens([], pair ? [] : undefined, opts).length;
  }

  /** HF `tokenizer(text, text_pair, ...)['input_ids']`. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    let a = this.textToIds(text);
    let b = opts.textPair !== undefined ? this.textToIds(opts.textPair) : undefined;
    const addSpecial = opts.addSpecialTokens ?? true;
    if (opts.maxLength !== undefined) {
      const specials = addSpecial ? this.numSpecialTokensToAdd(b !== undefined, opts) : 0;
      if (!Number.isInteger(opts.maxLength) || opts.maxLength < specials) {
        throw new PolyglotError(`maxLength: expected an integer >= ${specials} (the special tokens added), found ${opts.maxLength}`);
      }
      [a, b] = truncateLongestFirst(a, b, opts.maxLength - specials, `${this.source}: maxLength ${opts.maxLength}`);
    }
    if (!addSpecial) return b ? [...a, ...b] : a;
    return this.withSpecialTokens(a, b, opts);
  }

  /** Encodes several texts into one padded batch. */
  encodeBatch(texts: string[], opts: BatchEncodeOptions = {}): BatchEncoding {
    if (opts.textPairs && opts.textPairs.length !== texts.length) {
      throw new PolyglotError(`textPairs: expected ${texts.length} pairs (one per text), found ${opts.textPairs.length}`);
    }
    const rows = texts.map((t, i) => this.encode(t, { ...opts, textPair: opts.textPairs?.[i] }));
    return padBatch(rows, {
      padId: this.padTokenId,
      side: opts.paddingSide ?? 'right',
      length: opts.padding === 'max_length' ? opts.maxLength : undefined,
    });
  }

  /** HF `decode(ids, skip_special_tokens, clean_up_tokenization_spaces)` (4.38-4.44 slow `_decode`). */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? false;
    const chunks: string[] = [];
    let current: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (skip && this.specialIds.has(id)) continue;
      const token = this.idToToken(id);
      if (this.chunkIds.has(id)) {
        if (current.length) {
          const s = this.tokensToString(current);
          if (s.length > 0) chunks.push(s);
          current = [];
        }
        chunks.push(token);
      } else {
        current.push(token);
      }
    }
    if (current.length) chunks.push(this.tokensToString(current));
    const text = chunks.join((opts.spacesBetweenSpecialTokens ?? true) ? ' ' : '');
    return (opts.cleanUpTokenizationSpaces ?? this.cleanUpTokenizationSpaces) ? cleanUpTokenization(text) : text;
  }

  batchDecode(rows: ArrayLike<number>[], opts: DecodeOptions = {}): string[] {
    return rows.map((r) => this.decode(r, opts));
  }

  /** HF `convert_tokens_to_string`: join, `▁` -> space, strip. */
  tokensToString(tokens: string[]): string {
    return tokens.join('').replaceAll('\u2581', ' ').trim();
  }
}

/**
 * HF `truncate_sequences` with `longest_first` (tokenization_utils_base, 4.3x): removes
 * `excess` tokens from the end, first from the longer sequence until both are equal, then alternately.
 */
export function truncateLongestFirst(a: number[], b: number[] | undefined, budget: number, what: string): [number[], number[] | undefined] {
  const total = a.length + (b?.length ?? 0);
  const remove = total - budget;
  if (remove <= 0) return [a, b];
  if (!b) {
    if (budget < 0) throw new PolyglotError(`${what}: too small for the special tokens`);
    return [a.slice(0, budget), undefined];
  }
  const first = Math.min(Math.abs(b.length - a.length), remove);
  const second = remove - first;
  let fromA: number;
  let fromB: number;
  if (a.length > b.length) {
    fromA = first + Math.floor(second / 2);
    fromB = second - Math.floor(second / 2);
  } else {
    fromA = Math.floor(second / 2);
    fromB = first + second - Math.floor(second / 2);
  }
  return [a.slice(0, a.length - fromA), b.slice(0, b.length - fromB)];
}

/** Pads id rows into one [B, T] batch; attention mask 1 on real tokens. */
export function padBatch(rows: number[][], opts: { padId: number; side: 'left' | 'right'; length?: number }): BatchEncoding {
  const longest = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const T = opts.length ?? longest;
  if (longest > T) throw new PolyglotError(`padding to ${T}: a row has ${longest} ids; pass maxLength (truncation) or a larger length`);
  const B = rows.length;
  const inputIds = new Int32Array(B * T).fill(opts.padId);
  const attentionMask = new Int32Array(B * T);
  rows.forEach((r, i) => {
    const off = i * T + (opts.side === 'left' ? T - r.length : 0);
    inputIds.set(r, off);
    attentionMask.fill(1, off, off + r.length);
  });
  return { inputIds, attentionMask, shape: [B, T], lengths: rows.map((r) => r.length) };
}
