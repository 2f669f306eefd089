/**
 * Corpus BLEU as sacrebleu's `BLEU()` computes it by default (sacrebleu 2.x): `13a`
 * tokenisation, n-grams up to 4, clipped counts against the max over references, brevity
 * penalty from the closest reference length, smoothing `exp` (sacrebleu's default; `none`,
 * `floor` and `add-k` as options). Scores are 0..100.
 */
import { PolyglotError } from '../../core/errors.js';
import { refStreams } from './chrf.js';
import { tokenize13a } from './tokenizer-13a.js';

export type BleuSmoothing = 'exp' | 'none' | 'floor' | 'add-k';

export interface BleuOptions {
  smoothMethod?: BleuSmoothing;
  /** For `floor` (default 0.1) and `add-k` (default 1). */
  smoothValue?: number;
  /** `13a` (default) or `none` (split on whitespace only). */
  tokenize?: '13a' | 'none';
  lowercase?: boolean;
  maxNgramOrder?: number;
  /** Average only over orders that have n-grams (sacrebleu `use_effective_order`, for sentence BLEU). */
  effectiveOrder?: boolean;
}

export interface BleuResult {
  score: number;
  /** Clipped matches per order. */
  counts: number[];
  /** Hypothesis n-grams per order. */
  totals: number[];
  /** Per-order precisions (percent) after smoothing. */
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
}

function ngramCounts(tokens: string[], maxOrder: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      // \u0001 cannot occur inside a token (tokens are whitespace-free and come from text)
      const g = `${n}\u0001${tokens.slice(i, i + n).join('\u0001')}`;
      m.set(g, (m.get(g) ?? 0) + 1);
    }
  }
  return m;
}

/** sacrebleu `BLEU.compute_bleu` from sufficient statistics. */
export function bleuFromStats(counts: number[], totals: number[], sysLen: number, refLen: number, opts: BleuOptions = {}): BleuResult {
  const method = opts.smoothMethod ?? 'exp';
  const maxOrder = opts.maxNgramOrder ?? 4;
  const smoothValue = opts.smoothValue ?? (method === 'floor' ? 0.1 : 1);
  const correct = [...counts];
  const total = [...totals];
  const precisions = new Array<number>(maxOrder).fill(0);
  let smoothMteval = 1;
  let effOrder = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1] += smoothValue;
      total[n - 1] += smoothValue;
    }
    if (total[n - 1] === 0) break;
    if (opts.effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (method === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]);
      } else if (method === 'floor') {
        precisions[n - 1] = (100 * smoothValue) / total[n - 1];
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]) / total[n - 1];
    }
  }
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  // sacrebleu my_log(0) = -9999999999: a zero precision gives a score of 0
  const logs = precisions.slice(0, effOrder).map((p) => (p === 0 ? -9999999999 : Math.log(p)));
  const score = bp * Math.exp(logs.reduce((a, b) => a + b, 0) / effOrder);
  return { score, counts: [...counts], totals: [...totals], precisions, bp, sysLen, refLen };
}

/**
 * Corpus BLEU. `refs` is one reference stream (`string[]`, one per hypothesis) or several
 * (`string[][]`). The reference length of a sentence is the closest one (ties: the shorter).
 */
export function corpusBleu(hyps: string[], refs: string[] | string[][], opts: BleuOptions = {}): BleuResult {
  const maxOrder = opts.maxNgramOrder ?? 4;
  if (!Number.isInteger(maxOrder) || maxOrder < 1) throw new PolyglotError(`BLEU maxNgramOrder: expected a positive integer, found ${maxOrder}`);
  const streams = refStreams(hyps, refs, 'BLEU');
  const tok = (s: string): string[] => {
    const t = opts.lowercase ? s.toLowerCase() : s;
    const norm = (opts.tokenize ?? '13a') === '13a' ? tokenize13a(t) : t.trim();
    return norm.split(/\s+/).filter((x) => x.length > 0);
  };
  const counts = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hyps.forEach((h, i) => {
    const ht = tok(h);
    const maxRef = new Map<string, number>();
    let closest = -1;
    for (const s of streams) {
      const rt = tok(s[i]);
      const d = Math.abs(rt.length - ht.length);
      if (closest < 0 || d < Math.abs(closest - ht.length) || (d === Math.abs(closest - ht.length) && rt.length < closest)) closest = rt.length;
      for (const [g, c] of ngramCounts(rt, maxOrder)) maxRef.set(g, Math.max(maxRef.get(g) ?? 0, c));
    }
    sysLen += ht.length;
    refLen += closest;
    for (const [g, c] of ngramCounts(ht, maxOrder)) {
      const n = Number(g.slice(0, g.indexOf('\u0001'))) - 1;
      counts[n] += Math.min(c, maxRef.get(g) ?? 0);
    }
    for (let n = 1; n <= maxOrder; n++) totals[n - 1] += Math.max(0, ht.length - n + 1);
  });
  return bleuFromStats(counts, totals, sysLen, refLen, opts);
}

/** Sentence BLEU (sacrebleu `sentence_bleu`: exp smoothing, effective order). */
export function sentenceBleu(hyp: string, refs: string | string[], opts: BleuOptions = {}): BleuResult {
  const rs = typeof refs === 'string' ? [refs] : refs;
  return corpusBleu([hyp], rs.map((r) => [r]), { effectiveOrder: true, ...opts });
}
