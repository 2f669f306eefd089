/**
 * HF BeamHypotheses / BeamSearchScorer (transformers/generation/beam_search.py, 4.36-4.49 era,
 * with `decoder_prompt_len`): the n-best list of finished hypotheses of one batch entry and the
 * per-step bookkeeping of beam search.
 */
import { PolyglotError } from '../core/errors.js';

export type EarlyStopping = boolean | 'never';

interface Hyp {
  score: number;
  tokens: number[];
}

/** The `numBeams` best finished hypotheses, score = sum_logprobs / generated_len ** lengthPenalty. */
export class BeamHypotheses {
  readonly beams: Hyp[] = [];
  worstScore = 1e9;

  constructor(
    readonly numBeams: number,
    readonly lengthPenalty: number,
    readonly earlyStopping: EarlyStopping,
    readonly maxLength: number,
  ) {}

  get length(): number {
    return this.beams.length;
  }

  add(tokens: number[], sumLogprobs: number, generatedLen: number): void {
    const score = sumLogprobs / generatedLen ** this.lengthPenalty;
    if (this.beams.length < this.numBeams || score > this.worstScore) {
      this.beams.push({ score, tokens });
      if (this.beams.length > this.numBeams) {
        // python sorted((s, idx)): the worst score, the earliest added among equals, goes
        const order = this.beams.map((b, i) => [b.score, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        this.beams.splice(order[0][1], 1);
        this.worstScore = order[1][0];
      } else {
        this.worstScore = Math.min(score, this.worstScore);
      }
    }
  }

  /** Whether no running beam can still enter the list (HF's three early_stopping modes). */
  isDone(bestSumLogprobs: number, curLen: number, decoderPromptLen: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    let highest: number;
    if (this.earlyStopping === false) {
      // heuristic: assumes the running beams end now (not exact for lengthPenalty > 0)
      highest = bestSumLogprobs / (curLen - decoderPromptLen) ** this.lengthPenalty;
    } else if (this.lengthPenalty > 0) {
      if (this.maxLength <= decoderPromptLen) throw new PolyglotError('generate: max length is not larger than the prompt length');
      highest = bestSumLogprobs / (this.maxLength - decoderPromptLen) ** this.lengthPenalty;
    } else {
      highest = bestSumLogprobs / (curLen - decoderPromptLen) ** this.lengthPenalty;
    }
    return this.worstScore >= highest;
  }
}

export interface ProcessResult {
  /** Per row of the next step (batch * numBeams). */
  scores: Float32Array;
  tokens: number[];
  /** Global row index (into the current batch * numBeams rows) each new row continues. */
  indices: Int32Array;
}

export class BeamSearchScorer {
  readonly hyps: BeamHypotheses[];
  readonly done: boolean[];

  constructor(
    readonly batchSize: number,
    readonly numBeams: number,
    lengthPenalty: number,
    earlyStopping: EarlyStopping,
    readonly numReturnSequences: number,
    readonly maxLength: number,
  ) {
    this.hyps = Array.from({ length: batchSize }, () => new BeamHypotheses(numBeams, lengthPenalty, earlyStopping, maxLength));
    this.done = new Array<boolean>(batchSize).fill(false);
  }

  get isDone(): boolean {
    return this.done.every((d) => d);
  }

  /**
   * One step. `candScores/candTokens/candBeams[b]` are batch entry b's top candidates, best first
   * (beam-local index in candBeams). An eos candidate ranked within the first numBeams closes a
   * hypothesis (the sequence without the eos, normalised by generated length including the eos);
   * the first numBeams non-eos candidates become the next beams. A finished batch entry is fed pad
   * tokens with score 0 continuing row 0 (HF).
   */
  process(
    sequences: readonly (readonly number[])[],
    candScores: number[][],
    candTokens: number[][],
    candBeams: number[][],
    eos: readonly number[],
    pad: number,
    decoderPromptLen: number,
  ): ProcessResult {
    const K = this.numBeams;
    const curLen = sequences[0].length + 1;
    const scores = new Float32Array(this.batchSize * K);
    const tokens = new Array<number>(this.batchSize * K).fill(0);
    const indices = new Int32Array(this.batchSize * K);
    for (let b = 0; b < this.batchSize; b++) {
      if (this.done[b]) {
        for (let j = 0; j < K; j++) tokens[b * K + j] = pad;
        continue;
      }
      let beamIdx = 0;
      for (let rank = 0; rank < candTokens[b].length; rank++) {
        const tok = candTokens[b][rank];
        const score = candScores[b][rank];
        const row = b * K + candBeams[b][rank];
        if (eos.includes(tok)) {
          if (rank >= K) continue;
          this.hyps[b].add(sequences[row].slice(), score, curLen - decoderPromptLen);
        } else {
          scores[b * K + beamIdx] = score;
          tokens[b * K + beamIdx] = tok;
          indices[b * K + beamIdx] = row;
          beamIdx++;
        }
        if (beamIdx === K) break;
      }
      if (beamIdx < K) throw new PolyglotError(`generate: beam search found fewer than ${K} non-eos candidates for batch row ${b}`);
      this.done[b] = this.done[b] || this.hyps[b].isDone(Math.max(...candScores[b]), curLen, decoderPromptLen);
    }
    return { scores, tokens, indices };
  }

  /**
   * Adds the running beams of unfinished entries, then returns the numReturnSequences best
   * hypotheses per entry (best first): padded to a common length with pad, an eos appended to a
   * hypothesis shorter than that length (HF finalize).
   */
  finalize(
    sequences: readonly (readonly number[])[],
    beamScores: Float32Array,
    eos: readonly number[],
    pad: number,
    decoderPromptLen: number,
  ): { sequences: number[][]; scores: number[] } {
    const K = this.numBeams;
    for (let b = 0; b < this.batchSize; b++) {
      if (this.done[b]) continue;
      for (let j = 0; j < K; j++) {
        const row = b * K + j;
        this.hyps[b].add(sequences[row].slice(), beamScores[row], sequences[row].length - decoderPromptLen);
      }
    }
    const best: Hyp[] = [];
    for (let b = 0; b < this.batchSize; b++) {
      // python sorted() is stable and pop() takes from the end: among equal scores the last added wins
      const sorted = this.hyps[b].beams.map((h, i) => ({ h, i })).sort((x, y) => x.h.score - y.h.score || x.i - y.i);
      for (let j = 0; j < this.numReturnSequences; j++) best.push(sorted[sorted.length - 1 - j].h);
    }
    const lengths = best.map((h) => h.tokens.length);
    const maxLen = Math.min(Math.max(...lengths) + 1, this.maxLength);
    const out = best.map((h) => {
      const row = h.tokens.slice(0, maxLen);
      if (row.length < maxLen) {
        row.push(eos.length > 0 ? eos[0] : pad);
        while (row.length < maxLen) row.push(pad);
      }
      return row;
    });
    return { sequences: out, scores: best.map((h) => h.score) };
  }
}
