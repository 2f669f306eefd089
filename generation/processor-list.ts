/**
 * The processor and warper lists of one generate call, in HF's order
 * (GenerationMixin._get_logits_processor, then _get_logits_warper).
 */
import type { ResolvedOptions } from './options.js';
import { forcedBos, forcedEos, minLength, minNewTokens, noRepeatNgram, repetitionPenalty, type LogitsProcessor } from './processors.js';
import { temperature, topK, topP } from './warpers.js';

export function buildProcessors(o: ResolvedOptions, promptLength: number): LogitsProcessor[] {
  const ps: LogitsProcessor[] = [];
  if (o.repetitionPenalty !== 1) ps.push(repetitionPenalty(o.repetitionPenalty));
  if (o.noRepeatNgramSize > 0) ps.push(noRepeatNgram(o.noRepeatNgramSize));
  if (o.minLength > 0 && o.eosTokenIds.length > 0) ps.push(minLength(o.minLength, o.eosTokenIds));
  if (o.minNewTokens > 0 && o.eosTokenIds.length > 0) ps.push(minNewTokens(promptLength, o.minNewTokens, o.eosTokenIds));
  if (o.forcedBosTokenId !== undefined) ps.push(forcedBos(o.forcedBosTokenId));
  if (o.forcedEosTokenIds !== undefined) ps.push(forcedEos(promptLength + o.maxNewTokens, o.forcedEosTokenIds));
  return ps;
}

/** Sampling only. In beam methods HF keeps at least 2 tokens (min_tokens_to_keep). */
export function buildWarpers(o: ResolvedOptions): LogitsProcessor[] {
  if (!o.doSample) return [];
  const keep = o.numBeams > 1 ? 2 : 1;
  const ws: LogitsProcessor[] = [];
  if (o.temperature !== 1) ws.push(temperature(o.temperature));
  if (o.topK > 0) ws.push(topK(o.topK, keep));
  if (o.topP < 1) ws.push(topP(o.topP, keep));
  return ws;
}

export function applyAll(ps: readonly LogitsProcessor[], scores: Float32Array, sequence: readonly number[]): void {
  for (const p of ps) p(scores, sequence);
}
