/**
 * `tokenize` cases inside a model fixture (FORMAT.md): the text and options are literals
 * (in `inputs` or `params`), and the expectations are compared exactly: input_ids against a
 * named int64 tensor or a literal list, tokens / pieces / decoded text against literals.
 */
import { PolyglotError } from '../core/errors.js';
import type { Tokenizer } from '../tokenizers/load.js';
import { loadPretrainedTokenizer } from '../models/registry.js';
import { computeTokenizerCase, type TokenizerCase } from './tokenizer-cases.js';
import type { CaseContext, CaseHandler, LiteralOutput } from './types.js';

/** The handler for one fixture directory; its tokenizer is loaded on first use. */
export function tokenizeCase(fixtureDir: string): CaseHandler {
  let tokenizer: Promise<Tokenizer> | undefined;
  return async (ctx: CaseContext) => {
    tokenizer ??= loadPretrainedTokenizer(fixtureDir);
    const tok = await tokenizer;
    const option = <V>(key: string): V | undefined => (ctx.spec.inputs[key] ?? ctx.spec.params?.[key]) as V | undefined;
    const text = option<unknown>('text');
    if (typeof text !== 'string') throw new PolyglotError(`case "${ctx.spec.name}": a tokenize case needs a literal "text", found ${JSON.stringify(text)}`);
    const spec = {
      name: ctx.spec.name,
      tokenizer: tok.kind,
      text,
      text_pair: option<string>('text_pair'),
      src_lang: option<string>('src_lang'),
      tgt_lang: option<string>('tgt_lang'),
      legacy_behaviour: option<boolean>('legacy_behaviour'),
      as_target: option<boolean>('as_target'),
      add_special_tokens: option<boolean>('add_special_tokens'),
    } as TokenizerCase;
    const computed = computeTokenizerCase(tok, spec);
    const out: Record<string, LiteralOutput> = {};
    for (const [key, value] of Object.entries(computed)) out[key] = { literal: value };
    return out;
  };
}
