/**
 * `generateText(model, tokenizer, prompts, options)`: XGLM text completion. Prompts are encoded
 * as HF XGLMTokenizer does (`</s> prompt`), batched with LEFT padding (pad id 1, attention mask 0)
 * so every row's next token follows its last real token, run through generate() on an
 * XGLMDecoderSession (position ids from the mask, as HF), decoded with skip_special_tokens; the
 * returned text is the caller's prompt, unchanged, followed by the decoded continuation.
 */
import { PolyglotError } from '../core/errors.js';
import { padBatch, type DecodeOptions } from '../tokenizers/tokenizer.js';
import type { XGLMTokenizer } from '../tokenizers/xglm.js';
import type { XGLMForCausalLM } from '../models/xglm/model.js';
import { XGLMDecoderSession } from '../models/xglm/session.js';
import { generate } from './generate.js';
import type { GenerateOptions } from './options.js';
import { modelGenerationDefaults, withDefaults } from './generation-config.js';

export interface GenerateTextOptions extends GenerateOptions {
  /** Prompts per generate call (default: all at once). */
  batchSize?: number;
  /** Decode options for the returned text (default skipSpecialTokens true). */
  decode?: DecodeOptions;
}

export interface GeneratedText {
  /** Index of the prompt this output continues. */
  prompt: number;
  /** The prompt exactly as given + `completion` (HF text-generation pipeline, return_full_text=True). */
  text: string;
  /** The continuation alone, leading space included (HF pipeline, return_full_text=False): see `continuationText`. */
  completion: string;
  /** The prompt ids (no padding) followed by the generated ids (pad ids after eos removed). */
  ids: number[];
  /** The generated ids only. */
  newIds: number[];
  /** Beam search: length-normalised score. */
  score?: number;
}

/** Generated ids without the pads HF appends to finished rows (kept up to and including the eos). */
export function trimGenerated(ids: readonly number[], eos: readonly number[], pad: number): number[] {
  const e = ids.findIndex((t) => eos.includes(t));
  if (e >= 0) return ids.slice(0, e + 1);
  let end = ids.length;
  // no eos: only beam finalize pads (shorter hypotheses), strip trailing pads
  while (end > 0 && ids[end - 1] === pad && pad >= 0 && !eos.includes(pad)) end--;
  return ids.slice(0, end);
}

/**
 * The text the generated ids add to the prompt, as HF's text-generation pipeline computes it
 * (`postprocess`): decode prompt + generated ids, then drop as many characters as the decoded
 * prompt has. Decoding the new ids alone would lose the space sentencepiece puts before the
 * first new word; returning the decoded prompt would give the user back an NFKC-normalised,
 * space-collapsed, unk-dropped version of what they typed. Characters are counted as Python's
 * len() does (code points), so an emoji in the prompt does not shift the cut.
 */
export function continuationText(tokenizer: Pick<XGLMTokenizer, 'decode'>, promptIds: readonly number[], newIds: readonly number[], opts: DecodeOptions): string {
  const full = Array.from(tokenizer.decode([...promptIds, ...newIds], opts));
  const promptLength = Array.from(tokenizer.decode(promptIds, opts)).length;
  return full.slice(promptLength).join('');
}

function eosList(v: GenerateOptions['eosTokenId'], dflt: number | null): number[] {
  const x = v === undefined ? dflt : v;
  return x === null ? [] : Array.isArray(x) ? x : [x];
}

export async function generateText(
  model: XGLMForCausalLM,
  tokenizer: XGLMTokenizer,
  prompts: readonly string[],
  explicit: GenerateTextOptions = {},
): Promise<GeneratedText[]> {
  if (prompts.length === 0) return [];
  // HF generate() starts from model.generation_config (generation_config.json); explicit options win.
  const options = withDefaults<GenerateTextOptions>(modelGenerationDefaults(model), explicit);
  const cfg = model.config;
  const eos = eosList(options.eosTokenId, cfg.eosTokenId);
  const pad = options.padTokenId ?? cfg.padTokenId;
  const bs = options.batchSize ?? prompts.length;
  if (!Number.isInteger(bs) || bs < 1) throw new PolyglotError(`generateText: batchSize must be an integer >= 1, found ${bs}`);
  const { batchSize: _b, decode: decodeOpts, ...rest } = options;
  // decoder_start_token_id of a generation config means nothing to a decoder-only model
  const { decoderStartTokenId: _d, ...genOpts } = rest as GenerateTextOptions & { decoderStartTokenId?: number };
  const out: GeneratedText[] = [];
  for (let start = 0; start < prompts.length; start += bs) {
    const chunk = prompts.slice(start, start + bs);
    const rows = chunk.map((p) => tokenizer.encode(p));
    const enc = padBatch(rows, { padId: pad, side: 'left' });
    const [B, T] = enc.shape;
    const ids = Array.from({ length: B }, (_, i) => Array.from(enc.inputIds.subarray(i * T, (i + 1) * T)));
    const mask = Array.from({ length: B }, (_, i) => Array.from(enc.attentionMask.subarray(i * T, (i + 1) * T)));
    const session = new XGLMDecoderSession(model, mask);
    let res;
    try {
      res = await generate(session, { inputIds: ids }, { ...genOpts, eosTokenId: eos, padTokenId: pad });
    } finally {
      session.dispose();
    }
    const perPrompt = res.sequences.length / B;
    res.sequences.forEach((seq, j) => {
      const i = Math.floor(j / perPrompt);
      const promptIds = rows[i];
      const newIds = trimGenerated(seq.slice(T), eos, pad);
      const all = [...promptIds, ...newIds];
      const completion = continuationText(tokenizer, promptIds, newIds, { skipSpecialTokens: true, ...decodeOpts });
      out.push({
        prompt: start + i,
        text: chunk[i] + completion,
        completion,
        ids: all,
        newIds,
        score: res.sequenceScores?.[j],
      });
    });
  }
  return out;
}
