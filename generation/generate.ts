/**
 * `generate(session, { inputIds }, options)`: greedy decoding, sampling, beam search and beam
 * sampling over a DecoderSession, following HF GenerationMixin (4.41-era loops).
 *
 * `inputIds` are the tokens the session has NOT been fed yet, one row per sequence, all rows the
 * same length: for a decoder-only model the (left-padded) prompt, whose attention mask the session
 * was created with; for an encoder-decoder model the decoder prompt, normally [decoderStartTokenId]
 * per row (the encoder ran when the session was created). The returned `sequences` are those
 * tokens followed by the generated ones, like HF: prompt + generated for decoder-only, decoder
 * start + generated for seq2seq.
 */
import { PolyglotError } from '../core/errors.js';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from './options.js';
import { applyAll, buildProcessors, buildWarpers } from './processor-list.js';
import { argmax, logSoftmaxInPlace, softmax, topK } from './scores.js';
import { sampleOne, sampleWithoutReplacement } from './sampling.js';
import { BeamSearchScorer } from './beam-hypotheses.js';
import { runStep } from './step.js';
import type { DecoderSession } from '../core/decoder-session.js';

export interface GenerateInputs {
  inputIds: readonly (readonly number[])[];
}

export interface GenerateResult {
  /** batch * numReturnSequences rows (the sequences of input row b are rows b*n .. b*n+n-1). */
  sequences: number[][];
  /** Length of the fed prefix (prompt / decoder prompt) at the start of every row. */
  promptLength: number;
  /** Beam search: HF `sequences_scores` (length-normalised sum of log-probs), one per row. */
  sequenceScores?: number[];
}

function checkInputs(inputs: GenerateInputs, session: DecoderSession): number[][] {
  const rows = inputs.inputIds;
  if (rows.length === 0) throw new PolyglotError('generate: inputIds is empty (expected at least one row)');
  const t = rows[0].length;
  if (t === 0) throw new PolyglotError('generate: inputIds rows are empty (expected a prompt or a decoder start token)');
  rows.forEach((r, i) => {
    if (r.length !== t) throw new PolyglotError(`generate: inputIds row ${i} has ${r.length} tokens, row 0 has ${t} (pad the prompts to one length)`);
    for (const x of r) if (!Number.isInteger(x) || x < 0) throw new PolyglotError(`generate: inputIds row ${i} holds ${x}, expected token ids (integers >= 0)`);
  });
  if (session.batchSize !== rows.length) {
    throw new PolyglotError(`generate: the session has ${session.batchSize} rows but inputIds has ${rows.length}`);
  }
  return rows.map((r) => [...r]);
}

/** Every row repeated k times, in place in the session (HF _expand_inputs_for_generation). */
function expand(session: DecoderSession, seqs: number[][], k: number): number[][] {
  if (k === 1) return seqs;
  const idx = new Int32Array(seqs.length * k);
  for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(i / k);
  session.reorder(idx);
  return Array.from(idx, (i) => [...seqs[i]]);
}

export async function generate(session: DecoderSession, inputs: GenerateInputs, options: GenerateOptions = {}): Promise<GenerateResult> {
  const prompts = checkInputs(inputs, session);
  const promptLength = prompts[0].length;
  const o = resolveOptions(options, promptLength);
  if (o.maxNewTokens === 0) return { sequences: prompts, promptLength };
  if (o.numBeams > 1) return beamSearch(session, prompts, o);
  return greedyOrSample(session, expand(session, prompts, o.doSample ? o.numReturnSequences : 1), o);
}

/** HF _sample / _greedy_search. */
async function greedyOrSample(session: DecoderSession, seqs: number[][], o: ResolvedOptions): Promise<GenerateResult> {
  const rows = seqs.length;
  const promptLength = seqs[0].length;
  const maxLength = promptLength + o.maxNewTokens;
  const processors = buildProcessors(o, promptLength);
  const warpers = buildWarpers(o);
  const unfinished = new Array<boolean>(rows).fill(true);
  let feed: number[][] = seqs;
  for (let step = 0; ; step++) {
    const { scores, vocab } = await runStep(session, feed);
    const next: number[] = [];
    for (let r = 0; r < rows; r++) {
      if (!unfinished[r]) {
        // HF: next_tokens * unfinished + pad * (1 - unfinished); the scores do not matter
        next.push(o.padTokenId);
        continue;
      }
      const row = scores.subarray(r * vocab, (r + 1) * vocab);
      applyAll(processors, row, seqs[r]);
      if (o.doSample) {
        applyAll(warpers, row, seqs[r]);
        next.push(sampleOne(softmax(row), o.rng));
      } else {
        next.push(argmax(row));
      }
    }
    for (let r = 0; r < rows; r++) {
      seqs[r].push(next[r]);
      if (unfinished[r] && o.eosTokenIds.includes(next[r])) unfinished[r] = false;
    }
    o.onToken?.({ step, tokens: next, finished: unfinished.map((u) => !u) });
    if (!unfinished.some((u) => u) || seqs[0].length >= maxLength) break;
    feed = next.map((t) => [t]);
  }
  return { sequences: seqs, promptLength };
}

/** HF _beam_search / _beam_sample with BeamSearchScorer. */
async function beamSearch(session: DecoderSession, prompts: number[][], o: ResolvedOptions): Promise<GenerateResult> {
  const B = prompts.length;
  const K = o.numBeams;
  const promptLength = prompts[0].length;
  const maxLength = promptLength + o.maxNewTokens;
  let seqs = expand(session, prompts, K);
  const processors = buildProcessors(o, promptLength);
  const warpers = buildWarpers(o);
  const scorer = new BeamSearchScorer(B, K, o.lengthPenalty, o.earlyStopping, o.numReturnSequences, maxLength);
  // only beam 0 of each entry is live at first, so the identical copies do not fill the beams
  let beamScores: Float32Array = new Float32Array(B * K);
  for (let i = 0; i < B * K; i++) beamScores[i] = i % K === 0 ? 0 : -1e9;
  const nCand = Math.max(2, 1 + o.eosTokenIds.length) * K;
  let feed: number[][] = seqs;
  for (;;) {
    const { scores, vocab } = await runStep(session, feed);
    for (let r = 0; r < B * K; r++) {
      const row = scores.subarray(r * vocab, (r + 1) * vocab);
      logSoftmaxInPlace(row);
      applyAll(processors, row, seqs[r]);
      const bs = beamScores[r];
      for (let v = 0; v < vocab; v++) row[v] = row[v] + bs;
      if (o.doSample) applyAll(warpers, row, seqs[r]);
    }
    const candScores: number[][] = [];
    const candTokens: number[][] = [];
    const candBeams: number[][] = [];
    for (let b = 0; b < B; b++) {
      const block = scores.subarray(b * K * vocab, (b + 1) * K * vocab);
      let flat: number[];
      let vals: number[];
      if (o.doSample) {
        // HF _beam_sample: multinomial over softmax of the warped (beam-accumulated) scores, then
        // the drawn candidates sorted by those scores
        flat = sampleWithoutReplacement(softmax(block), nCand, o.rng);
        flat.sort((x, y) => block[y] - block[x] || x - y);
        vals = flat.map((i) => block[i]);
      } else {
        const t = topK(block, nCand);
        flat = t.indices;
        vals = t.values;
      }
      candScores.push(vals);
      candTokens.push(flat.map((i) => i % vocab));
      candBeams.push(flat.map((i) => Math.floor(i / vocab)));
    }
    const res = scorer.process(seqs, candScores, candTokens, candBeams, o.eosTokenIds, o.padTokenId, promptLength);
    seqs = Array.from(res.indices, (row, i) => [...seqs[row], res.tokens[i]]);
    beamScores = res.scores;
    if (scorer.isDone || seqs[0].length >= maxLength) break;
    session.reorder(res.indices);
    feed = res.tokens.map((t) => [t]);
  }
  const fin = scorer.finalize(seqs, beamScores, o.eosTokenIds, o.padTokenId, promptLength);
  return { sequences: fin.sequences, promptLength, sequenceScores: fin.scores };
}
