/**
 * Logits processors with Hugging Face semantics (transformers/generation/logits_process.py).
 * Each works in place on one row of scores (Float32Array, vocabulary size) given that row's
 * current sequence (decoder-only: prompt with its padding + generated ids; encoder-decoder:
 * decoder start + generated ids), exactly the `input_ids` HF passes to its processors.
 */
import { PolyglotError } from '../core/errors.js';

export type LogitsProcessor = (scores: Float32Array, sequence: readonly number[]) => void;

/**
 * RepetitionPenaltyLogitsProcessor: every token id present in the sequence (prompt included,
 * padding ids too, as HF gathers over all of input_ids) gets its score divided by `penalty` when
 * positive and multiplied by it when negative. Each id is penalised once however often it occurs.
 */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  if (!(penalty > 0)) throw new PolyglotError(`generate: repetitionPenalty must be a number > 0, found ${penalty}`);
  return (scores, sequence) => {
    const seen = new Set<number>();
    for (const id of sequence) {
      if (seen.has(id) || id < 0 || id >= scores.length) continue;
      seen.add(id);
      const s = scores[id];
      scores[id] = s < 0 ? s * penalty : s / penalty;
    }
  };
}

/**
 * NoRepeatNGramLogitsProcessor: bans every token that would complete an n-gram already present
 * in the sequence (prompt included). Nothing is banned while `len + 1 < n`.
 */
export function noRepeatNgram(n: number): LogitsProcessor {
  if (!Number.isInteger(n) || n <= 0) throw new PolyglotError(`generate: noRepeatNgramSize must be a positive integer, found ${n}`);
  return (scores, seq) => {
    const len = seq.length;
    if (len + 1 < n) return;
    // prefix = the last n-1 tokens; every earlier occurrence of it bans the token that followed
    const start = len - (n - 1);
    for (let i = 0; i + n <= len; i++) {
      let match = true;
      for (let j = 0; j < n - 1; j++) {
        if (seq[i + j] !== seq[start + j]) {
          match = false;
          break;
        }
      }
      if (match) {
        const banned = seq[i + n - 1];
        if (banned >= 0 && banned < scores.length) scores[banned] = -Infinity;
      }
    }
  };
}

function setEos(scores: Float32Array, eos: readonly number[], value: number): void {
  for (const e of eos) if (e >= 0 && e < scores.length) scores[e] = value;
}

/** MinLengthLogitsProcessor: eos scores are -inf while the whole sequence is shorter than `minLength`. */
export function minLength(minLen: number, eos: readonly number[]): LogitsProcessor {
  return (scores, seq) => {
    if (seq.length < minLen) setEos(scores, eos, -Infinity);
  };
}

/** MinNewTokensLengthLogitsProcessor: eos scores are -inf while fewer than `minNew` tokens follow the prompt. */
export function minNewTokens(promptLength: number, minNew: number, eos: readonly number[]): LogitsProcessor {
  return (scores, seq) => {
    if (seq.length - promptLength < minNew) setEos(scores, eos, -Infinity);
  };
}

/**
 * ForcedBOSTokenLogitsProcessor: when the sequence has length 1 (only the decoder start token;
 * never true for a decoder-only prompt of 2+ tokens), every score becomes -inf except the forced
 * token's, which becomes 0.
 */
export function forcedBos(tokenId: number): LogitsProcessor {
  return (scores, seq) => {
    if (seq.length !== 1) return;
    if (tokenId < 0 || tokenId >= scores.length) throw new PolyglotError(`generate: forcedBosTokenId ${tokenId} is outside the vocabulary (size ${scores.length})`);
    scores.fill(-Infinity);
    scores[tokenId] = 0;
  };
}

/**
 * ForcedEOSTokenLogitsProcessor: at the last step allowed by the length limit (sequence length ==
 * maxLength - 1), every score becomes -inf except the eos ids', which become 0.
 */
export function forcedEos(maxLength: number, eos: readonly number[]): LogitsProcessor {
  return (scores, seq) => {
    if (seq.length !== maxLength - 1) return;
    scores.fill(-Infinity);
    setEos(scores, eos, 0);
  };
}
