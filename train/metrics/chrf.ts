/**
 * chrF as sacrebleu's `CHRF()` computes it by default (sacrebleu 2.x): character n-grams of
 * order 1..6, word order 0, beta 2, whitespace removed before counting, case kept, no eps
 * smoothing: precision and recall are averaged over the orders where both sides have n-grams,
 * then combined into one F-beta. Corpus scores sum the statistics of all sentences first.
 */
import { PolyglotError } from '../../core/errors.js';

export interface ChrfOptions {
  charOrder?: number;
  beta?: number;
  /** Keep whitespace inside character n-grams (sacrebleu `whitespace=True`); default false. */
  whitespace?: boolean;
  lowercase?: boolean;
}

export interface ChrfResult {
  /** 0..100 */
  score: number;
  /** Per order n = 1..charOrder: [hyp n-grams, ref n-grams, matches] summed over the corpus. */
  stats: [number, number, number][];
}

function charNgrams(text: string, n: number): Map<string, number> {
  const chars = Array.from(text); // code points, as Python indexes str
  const m = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const g = chars.slice(i, i + n).join('');
    m.set(g, (m.get(g) ?? 0) + 1);
  }
  return m;
}

function prepare(text: string, o: Required<ChrfOptions>): string {
  let s = o.lowercase ? text.toLowerCase() : text;
  // sacrebleu: ''.join(sentence.split()) drops every whitespace run
  if (!o.whitespace) s = s.split(/\s+/).join('');
  return s;
}

function sentenceStats(hyp: string, ref: string, o: Required<ChrfOptions>): [number, number, number][] {
  const h = prepare(hyp, o);
  const r = prepare(ref, o);
  const out: [number, number, number][] = [];
  for (let n = 1; n <= o.charOrder; n++) {
    const hg = charNgrams(h, n);
    const rg = charNgrams(r, n);
    let nh = 0;
    let nr = 0;
    let match = 0;
    for (const c of hg.values()) nh += c;
    for (const c of rg.values()) nr += c;
    for (const [g, c] of hg) match += Math.min(c, rg.get(g) ?? 0);
    out.push([nh, nr, match]);
  }
  return out;
}

/** sacrebleu `CHRF._compute_f_score` without eps smoothing. */
export function chrfFromStats(stats: [number, number, number][], beta = 2): number {
  const factor = beta * beta;
  let avgPrec = 0;
  let avgRec = 0;
  let effective = 0;
  for (const [nh, nr, m] of stats) {
    if (nh > 0 && nr > 0) {
      avgPrec += m / nh;
      avgRec += m / nr;
      effective++;
    }
  }
  if (effective === 0) return 0;
  avgPrec /= effective;
  avgRec /= effective;
  if (avgPrec + avgRec === 0) return 0;
  return (100 * (1 + factor) * avgPrec * avgRec) / (factor * avgPrec + avgRec);
}

function options(opts: ChrfOptions): Required<ChrfOptions> {
  return { charOrder: opts.charOrder ?? 6, beta: opts.beta ?? 2, whitespace: opts.whitespace ?? false, lowercase: opts.lowercase ?? false };
}

/**
 * Corpus chrF. `refs` is one reference stream (`string[]`, one per hypothesis) or several
 * (`string[][]`, each stream one per hypothesis); with several, each sentence uses the reference
 * with the best sentence-level score (sacrebleu).
 */
export function corpusChrf(hyps: string[], refs: string[] | string[][], opts: ChrfOptions = {}): ChrfResult {
  const o = options(opts);
  const streams = refStreams(hyps, refs, 'chrF');
  const total: [number, number, number][] = Array.from({ length: o.charOrder }, () => [0, 0, 0]);
  hyps.forEach((h, i) => {
    let best: [number, number, number][] | undefined;
    let bestScore = -1;
    for (const s of streams) {
      const st = sentenceStats(h, s[i], o);
      const f = chrfFromStats(st, o.beta);
      if (f > bestScore) {
        best = st;
        bestScore = f;
      }
    }
    best!.forEach((v, n) => {
      total[n][0] += v[0];
      total[n][1] += v[1];
      total[n][2] += v[2];
    });
  });
  return { score: chrfFromStats(total, o.beta), stats: total };
}

/** Sentence chrF (sacrebleu `sentence_chrf`). */
export function sentenceChrf(hyp: string, refs: string | string[], opts: ChrfOptions = {}): ChrfResult {
  const rs = typeof refs === 'string' ? [refs] : refs;
  return corpusChrf([hyp], rs.map((r) => [r]), opts);
}

/** Normalises `refs` to reference streams and checks their lengths. */
export function refStreams(hyps: string[], refs: string[] | string[][], metric: string): string[][] {
  const streams = refs.length > 0 && Array.isArray(refs[0]) ? (refs as string[][]) : [refs as string[]];
  if (streams.length === 0) throw new PolyglotError(`${metric}: expected at least one reference stream, found none`);
  streams.forEach((s, k) => {
    if (s.length !== hyps.length) throw new PolyglotError(`${metric}: reference stream ${k} has ${s.length} sentences, expected ${hyps.length} (one per hypothesis)`);
  });
  return streams;
}
