/**
 * Options of one `generate` call (HF GenerationConfig fields in camelCase), their defaults and
 * validation. Defaults follow HF's GenerationConfig except the length: without `maxNewTokens` or
 * `maxLength`, 20 new tokens (HF's default is max_length = 20 including the prompt).
 */
import { PolyglotError } from '../core/errors.js';
import { Rng } from '../core/random.js';

/** Streamed once per decoding step (greedy / sampling): one token per row, pad for finished rows. */
export interface TokenEvent {
  /** 0 for the first generated token. */
  step: number;
  tokens: number[];
  /** Rows that are finished after this step (emitted eos now or earlier). */
  finished: boolean[];
}

export interface GenerateOptions {
  /** New tokens at most; wins over maxLength (as HF max_new_tokens over max_length). */
  maxNewTokens?: number;
  /** Whole-sequence length limit, prompt / decoder prompt included (HF max_length). */
  maxLength?: number;
  /** eos is suppressed until this many new tokens exist (MinNewTokensLengthLogitsProcessor). */
  minNewTokens?: number;
  /** eos is suppressed while the whole sequence is shorter than this (MinLengthLogitsProcessor). */
  minLength?: number;
  doSample?: boolean;
  temperature?: number;
  /** HF default 50 when sampling; 0 disables. */
  topK?: number;
  topP?: number;
  /** Same seed, same inputs -> same output. Without seed or rng a random seed is used. */
  seed?: number;
  /** Takes precedence over `seed`; advanced by the call. */
  rng?: Rng;
  numBeams?: number;
  lengthPenalty?: number;
  earlyStopping?: boolean | 'never';
  numReturnSequences?: number;
  repetitionPenalty?: number;
  noRepeatNgramSize?: number;
  forcedBosTokenId?: number;
  /** Forces eos at the last step allowed by maxNewTokens (ForcedEOSTokenLogitsProcessor); true = the eos ids. */
  forcedEosTokenId?: number | number[] | true;
  /** null: never stop on a token. */
  eosTokenId?: number | number[] | null;
  /** Fills finished rows; defaults to the first eos id as in HF. */
  padTokenId?: number;
  onToken?: (event: TokenEvent) => void;
}

export interface ResolvedOptions {
  maxNewTokens: number;
  minNewTokens: number;
  minLength: number;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  rng: Rng;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: boolean | 'never';
  numReturnSequences: number;
  repetitionPenalty: number;
  noRepeatNgramSize: number;
  forcedBosTokenId?: number;
  forcedEosTokenIds?: number[];
  eosTokenIds: number[];
  padTokenId: number;
  onToken?: (event: TokenEvent) => void;
}

/**
 * Beams and returned sequences past this are refused: every beam (and every returned sample) is a
 * full decoder row with its own key/value cache, so work and memory grow linearly with them; HF
 * has no cap, but a value like 1e6 from a generation_config.json would only exhaust memory.
 */
export const MAX_BEAMS = 256;

function nonNegInt(v: number | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 0) throw new PolyglotError(`generate: ${name} must be an integer >= 0, found ${v}`);
  return v;
}

function posInt(v: number | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 1) throw new PolyglotError(`generate: ${name} must be an integer >= 1, found ${v}`);
  return v;
}

function idList(v: number | number[] | null | undefined, name: string): number[] {
  if (v === undefined || v === null) return [];
  const xs = Array.isArray(v) ? v : [v];
  for (const x of xs) if (!Number.isInteger(x) || x < 0) throw new PolyglotError(`generate: ${name} must be token ids (integers >= 0), found ${x}`);
  return xs;
}

export function resolveOptions(o: GenerateOptions, promptLength: number): ResolvedOptions {
  let maxNewTokens = nonNegInt(o.maxNewTokens, 'maxNewTokens', -1);
  if (maxNewTokens < 0) {
    const maxLength = nonNegInt(o.maxLength, 'maxLength', -1);
    maxNewTokens = maxLength < 0 ? 20 : Math.max(0, maxLength - promptLength);
  }
  const eosTokenIds = idList(o.eosTokenId, 'eosTokenId');
  const padTokenId = o.padTokenId ?? eosTokenIds[0];
  const numBeams = posInt(o.numBeams, 'numBeams', 1);
  const doSample = o.doSample ?? false;
  const numReturnSequences = posInt(o.numReturnSequences, 'numReturnSequences', 1);
  if (numBeams > MAX_BEAMS) throw new PolyglotError(`generate: numBeams ${numBeams} is more than ${MAX_BEAMS} (each beam is a decoder row with its own cache)`);
  if (numReturnSequences > MAX_BEAMS) throw new PolyglotError(`generate: numReturnSequences ${numReturnSequences} is more than ${MAX_BEAMS} (each is a decoder row with its own cache)`);
  if (numBeams === 1 && !doSample && numReturnSequences > 1) {
    throw new PolyglotError(`generate: numReturnSequences ${numReturnSequences} needs doSample or numBeams >= numReturnSequences (greedy gives one sequence)`);
  }
  if (numBeams > 1 && numReturnSequences > numBeams) {
    throw new PolyglotError(`generate: numReturnSequences (${numReturnSequences}) must be <= numBeams (${numBeams})`);
  }
  if (numBeams > 1 && o.onToken) throw new PolyglotError('generate: onToken streaming is not available with numBeams > 1 (HF refuses a streamer in beam search)');
  const temperature = o.temperature ?? 1;
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new PolyglotError(`generate: temperature must be a finite number > 0, found ${temperature}`);
  const topK = nonNegInt(o.topK, 'topK', 50);
  const topP = o.topP ?? 1;
  if (!(topP >= 0 && topP <= 1)) throw new PolyglotError(`generate: topP must be in [0, 1], found ${topP}`);
  const repetitionPenalty = o.repetitionPenalty ?? 1;
  if (!(repetitionPenalty > 0)) throw new PolyglotError(`generate: repetitionPenalty must be > 0, found ${repetitionPenalty}`);
  const lengthPenalty = o.lengthPenalty ?? 1;
  if (!Number.isFinite(lengthPenalty)) throw new PolyglotError(`generate: lengthPenalty must be a finite number, found ${lengthPenalty}`);
  const earlyStopping = o.earlyStopping ?? false;
  if (earlyStopping !== true && earlyStopping !== false && earlyStopping !== 'never') {
    throw new PolyglotError(`generate: earlyStopping must be true, false or 'never', found ${String(earlyStopping)}`);
  }
  if (o.forcedBosTokenId !== undefined) idList(o.forcedBosTokenId, 'forcedBosTokenId');
  let forcedEosTokenIds: number[] | undefined;
  if (o.forcedEosTokenId === true) {
    if (eosTokenIds.length === 0) throw new PolyglotError('generate: forcedEosTokenId true needs eosTokenId');
    forcedEosTokenIds = eosTokenIds;
  } else if (o.forcedEosTokenId !== undefined) {
    forcedEosTokenIds = idList(o.forcedEosTokenId, 'forcedEosTokenId');
  }
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new PolyglotError(`generate: seed must be an integer, found ${o.seed}`);
  return {
    maxNewTokens,
    minNewTokens: nonNegInt(o.minNewTokens, 'minNewTokens', 0),
    minLength: nonNegInt(o.minLength, 'minLength', 0),
    doSample,
    temperature,
    topK,
    topP,
    // no seed: a fresh one per call (HF samples from torch's global generator)
    rng: o.rng ?? new Rng(o.seed ?? Math.floor(Math.random() * 2 ** 31)),
    numBeams,
    lengthPenalty,
    earlyStopping,
    numReturnSequences,
    repetitionPenalty,
    noRepeatNgramSize: nonNegInt(o.noRepeatNgramSize, 'noRepeatNgramSize', 0),
    forcedBosTokenId: o.forcedBosTokenId,
    forcedEosTokenIds,
    eosTokenIds,
    padTokenId: padTokenId ?? -1,
    onToken: o.onToken,
  };
}
