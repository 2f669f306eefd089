/**
 * Translation quality during training: greedy decoding of dev sources (HF generate with
 * num_beams=1: decoder starts with decoder_start_token_id, the target language code is
 * forced as the first token, stop at </s>), then sacrebleu-compatible chrF and BLEU
 * (train/metrics) against the references. The decoding recomputes the full decoder each
 * step (no cache): simple and exact, fine for the few dozen dev sentences it is used on.
 */
import { tf } from '../core/tf.js';
import type { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import type { NllbTokenizer } from '../tokenizers/nllb.js';
import { padBatch } from '../tokenizers/tokenizer.js';
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
  tok: NllbTokenizer,
  srcs: string[],
  o: { srcLang: string; tgtLang: string; maxNewTokens?: number; batchSize?: number },
): Promise<string[]> {
  const out: string[] = [];
  const bs = o.batchSize ?? 16;
  const eos = model.config.eosTokenId;
  const pad = model.config.padTokenId;
  const forced = tok.langCodeId(o.tgtLang);
  for (let s = 0; s < srcs.length; s += bs) {
    const chunk = srcs.slice(s, s + bs);
    const enc = padBatch(chunk.map((t) => tok.encode(t, { srcLang: o.srcLang })), { padId: pad, side: 'right' });
    const B = chunk.length;
    const rows: number[][] = Array.from({ length: B }, () => [model.config.decoderStartTokenId, forced]);
    const done = new Array<boolean>(B).fill(false);
    const ids = tf.tensor(enc.inputIds, enc.shape, 'int32');
    const mask = tf.tensor(enc.attentionMask, enc.shape, 'int32');
    try {
      // default budget: twice the source length (+ slack), enough for these sentence-level tasks
      const budget = o.maxNewTokens ?? Math.min(256, 2 * enc.shape[1] + 8);
      for (let step = 0; step < budget && !done.every(Boolean); step++) {
        const T = rows[0].length;
        const next = tf.tidy(() => {
          const dec = tf.tensor(Int32Array.from(rows.flat()), [B, T], 'int32');
          const f = model.forward({ inputIds: ids, attentionMask: mask, decoderInputIds: dec, training: false });
          const last = tf.squeeze(tf.slice(f.logits, [0, T - 1, 0], [B, 1, -1]), [1]);
          return tf.argMax(last, -1);
        });
        const nx = next.dataSync();
        next.dispose();
        for (let i = 0; i < B; i++) {
          const t = done[i] ? pad : nx[i];
          rows[i].push(t);
          if (t === eos) done[i] = true;
        }
      }
    } finally {
      tf.dispose([ids, mask]);
    }
    for (const r of rows) out.push(tok.decode(r, { skipSpecialTokens: true }));
  }
  return out;
}

export interface TranslationScores {
  chrf: number;
  bleu: number;
  hypotheses: string[];
}

export async function scoreTranslations(model: NllbMoeForConditionalGeneration, tok: NllbTokenizer, pairs: DevPair[], maxNewTokens?: number): Promise<TranslationScores> {
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
