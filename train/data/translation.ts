/**
 * Translation data (NLLB-MoE): JSONL lines `{"src", "tgt", "src_lang", "tgt_lang"}`, any mix of
 * language pairs in one file set. Each example is encoded as HF does for
 * `tokenizer(src, text_target=tgt)` with that line's languages: input_ids `src_lang src </s>`,
 * labels `tgt_lang tgt </s>`, decoder_input_ids = shift_tokens_right(labels, 1, 2).
 */
import { PolyglotError } from '../../core/errors.js';
import type { HostBatch } from '../batch.js';
import type { TranslationTokenizer } from '../../tokenizers/load.js';
import { collateSeq2Seq, type Seq2SeqExample } from './collate.js';
import { LineCorpus } from './line-index.js';
import { translationRecord } from './records.js';
import type { ChunkPlanner } from './sampler.js';
import { openTrainingData, type CommonDataOptions, type TrainingData } from './training-data.js';

export interface TranslationDataOptions extends CommonDataOptions {
  tokenizer: TranslationTokenizer;
  /** Limits in ids, special tokens included (HF max_source_length / max_target_length). */
  maxSourceLength?: number;
  maxTargetLength?: number;
  /** Languages for lines that do not name them. */
  srcLang?: string;
  tgtLang?: string;
  /** Also give decoder_attention_mask (HF's collator does not; NLLB-MoE then routes decoder padding). */
  decoderAttentionMask?: boolean;
}

/** One line -> encoder ids and labels, as the HF tokenizer would give them. */
export function encodeTranslation(tok: TranslationTokenizer, line: string, where: string, o: Pick<TranslationDataOptions, 'srcLang' | 'tgtLang'>, limits: { src?: number; tgt?: number } = {}): Seq2SeqExample {
  const r = translationRecord(line, where, { srcLang: o.srcLang, tgtLang: o.tgtLang });
  try {
    return {
      inputIds: tok.encode(r.src, { srcLang: r.srcLang, maxLength: limits.src }),
      labels: tok.encode(r.tgt, { asTarget: true, tgtLang: r.tgtLang, maxLength: limits.tgt }),
    };
  } catch (e) {
    if (e instanceof PolyglotError) throw new PolyglotError(`${where}: ${e.message}`);
    throw e;
  }
}

class TranslationPlanner implements ChunkPlanner<Seq2SeqExample> {
  readonly oneToOne: boolean;
  /** Lines that name no src_lang / tgt_lang (the defaults were used). */
  readonly defaulted = { srcLang: 0, tgtLang: 0 };
  constructor(
    private readonly corpus: LineCorpus,
    private readonly o: TranslationDataOptions,
  ) {
    this.oneToOne = (o.overLength ?? 'truncate') === 'truncate';
  }

  validate(i: number): void {
    const where = this.corpus.where(i);
    const line = this.corpus.line(i);
    const r = translationRecord(line, where, { srcLang: this.o.srcLang, tgtLang: this.o.tgtLang });
    const raw = JSON.parse(line) as Record<string, unknown>;
    if (raw.src_lang === undefined) this.defaulted.srcLang++;
    if (raw.tgt_lang === undefined) this.defaulted.tgtLang++;
    for (const [field, code] of [['src_lang', r.srcLang], ['tgt_lang', r.tgtLang]] as const) {
      try {
        this.o.tokenizer.langCodeId(code);
      } catch (e) {
        if (e instanceof PolyglotError) throw new PolyglotError(`${where}: ${field} "${code}" is not a language of this tokenizer (expected a code like ${this.o.tokenizer.kind === 'm2m100' ? 'en, fr' : 'eng_Latn, fra_Latn'})`);
        throw e;
      }
    }
  }

  load(indices: Uint32Array): Seq2SeqExample[] {
    const drop = (this.o.overLength ?? 'truncate') === 'drop';
    const limits = drop ? {} : { src: this.o.maxSourceLength, tgt: this.o.maxTargetLength };
    const out: Seq2SeqExample[] = [];
    for (const i of indices) {
      const ex = encodeTranslation(this.o.tokenizer, this.corpus.line(i), this.corpus.where(i), this.o, limits);
      if (drop && ((this.o.maxSourceLength !== undefined && ex.inputIds.length > this.o.maxSourceLength) || (this.o.maxTargetLength !== undefined && ex.labels.length > this.o.maxTargetLength))) continue;
      out.push(ex);
    }
    return out;
  }

  length(e: Seq2SeqExample): number {
    return Math.max(e.inputIds.length, e.labels.length);
  }

  collate(items: Seq2SeqExample[]): HostBatch {
    return collateSeq2Seq(items, { padId: this.o.tokenizer.padTokenId, decoderStartId: this.o.tokenizer.eosTokenId, decoderAttentionMask: this.o.decoderAttentionMask });
  }
}

export async function translationData(o: TranslationDataOptions): Promise<TrainingData<Seq2SeqExample>> {
  for (const [k, v] of [['max source length', o.maxSourceLength], ['max target length', o.maxTargetLength]] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 3)) throw new PolyglotError(`data: ${k} must be an integer >= 3 (language code, a token, </s>), found ${v}`);
  }
  const planners: TranslationPlanner[] = [];
  const data = await openTrainingData(
    o,
    (corpus, opts) => {
      const p = new TranslationPlanner(corpus, opts);
      planners.push(p);
      return p;
    },
    { bucketByLength: o.bucketByLength },
  );
  for (const [field, key, flag] of [['src_lang', 'srcLang', '--src-lang'], ['tgt_lang', 'tgtLang', '--tgt-lang']] as const) {
    const n = planners.reduce((k, p) => k + p.defaulted[key], 0);
    if (n > 0) data.notes.push(`data: ${n} line(s) name no ${field}: using ${o[key]} (${o[key] === o.tokenizer[key] ? "the tokenizer's" : flag}; ${flag} sets another)`);
  }
  return data;
}

/** The (src, tgt, languages) of held-out lines, for chrF / BLEU of generated translations. */
export async function readTranslationPairs(files: string[], opts: { limit?: number; srcLang?: string; tgtLang?: string } = {}): Promise<{ src: string; tgt: string; srcLang: string; tgtLang: string }[]> {
  const corpus = await LineCorpus.open(files);
  try {
    const n = Math.min(corpus.size, opts.limit ?? corpus.size);
    return Array.from({ length: n }, (_, i) => translationRecord(corpus.line(i), corpus.where(i), opts));
  } finally {
    corpus.close();
  }
}
