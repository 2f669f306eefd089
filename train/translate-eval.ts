/**
 * Translation quality during training: greedy decoding of dev sources through
 * generation/translate.ts (HF generate with num_beams=1: decoder_start_token_id, the target
 * language code forced first, stop at </s>, KV cache), then sacrebleu-compatible chrF and
 * BLEU (train/metrics) against the references.
 */
import type { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import type { TranslationTokenizer } from '../tokenizers/load.js';
import { translate } from '../generation/translate.js';
import { corpusChrf } from './metrics/chrf.js';
import { corpusBleu } from './metrics/bleu.js';

export interface DevPair {
  src: string;
  tgt: string;
  srcLang: string;
  tgtLang: string;
}

export async function greedyTranslate(
  model: NllbMoeForConditionalGeneration,
  tok: TranslationTokenizer,
  srcs: string[],
  o: { srcLang: string; tgtLang: string; maxNewTokens?: number; batchSize?: number },
): Promise<string[]> {
  if (srcs.length === 0) return [];
  // default budget: twice the longest source (+ slack), enough for sentence-level tasks and
  // short for an untrained model that never emits </s>
  const longest = Math.max(...srcs.map((t) => tok.encode(t, { srcLang: o.srcLang }).length));
  const res = await translate(model, tok, srcs, {
    srcLang: o.srcLang,
    tgtLang: o.tgtLang,
    batchSize: o.batchSize ?? 16,
    maxNewTokens: o.maxNewTokens ?? Math.min(256, 2 * longest + 8),
  });
  const out = new Array<string>(srcs.length);
  for (const r of res) out[r.source] = r.text;
  return out;
}

export interface TranslationScores {
  chrf: number;
  bleu: number;
  hypotheses: string[];
}

export async function scoreTranslations(model: NllbMoeForConditionalGeneration, tok: TranslationTokenizer, pairs: DevPair[], maxNewTokens?: number): Promise<TranslationScores> {
  const hyps: string[] = new Array(pairs.length);
  // group by language pair (one forced target code per batch)
  const groups = new Map<string, number[]>();
  pairs.forEach((p, i) => {
    const k = `${p.srcLang}>${p.tgtLang}`;
    groups.set(k, [...(groups.get(k) ?? []), i]);
  });
  for (const idx of groups.values()) {
    const p0 = pairs[idx[0]];
    const res = await greedyTranslate(model, tok, idx.map((i) => pairs[i].src), { srcLang: p0.srcLang, tgtLang: p0.tgtLang, maxNewTokens });
    idx.forEach((i, k) => (hyps[i] = res[k]));
  }
  const refs = pairs.map((p) => p.tgt);
  return { chrf: corpusChrf(hyps, refs).score, bleu: corpusBleu(hyps, refs).score, hypotheses: hyps };
}
