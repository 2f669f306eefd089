/**
 * Tokenizer fixtures (../shared/fixtures/tokenizer): every case's ids, tokens, pieces and four
 * decodes must equal what the HF slow tokenizer gave, exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { readJsonFile } from '../convert/checkpoint.js';
import { tokenizerFromModel, type Tokenizer } from '../tokenizers/load.js';
import type { NllbTokenizer } from '../tokenizers/nllb.js';
import { resultFromError, resultFromOutputs } from './results.js';
import { compareExact } from './compare.js';
import type { CaseResult } from './types.js';

/** One case of a tokenizer fixture's cases.json (see its README). */
export interface TokenizerCase {
  name: string;
  tokenizer: 'xglm' | 'nllb';
  text: string;
  text_pair?: string;
  src_lang?: string;
  tgt_lang?: string;
  legacy_behaviour?: boolean;
  as_target?: boolean;
  add_special_tokens?: boolean;
  input_ids: number[];
  tokens: string[];
  pieces: string[];
  pieces_pair?: string[];
  decoded: string;
  decoded_skip_special: string;
  decoded_no_cleanup: string;
  decoded_skip_special_no_cleanup: string;
}

/** What our tokenizer gives for a case, under the same field names. */
export function computeTokenizerCase(tok: Tokenizer, c: TokenizerCase): Record<string, number[] | string[] | string> {
  if (tok.kind === 'nllb') {
    const n = tok as NllbTokenizer;
    // HF builds the tokenizer with src_lang / tgt_lang / legacy_behaviour per case.
    n.legacyBehaviour = c.legacy_behaviour ?? false;
  }
  const ids = tok.encode(c.text, {
    textPair: c.text_pair,
    addSpecialTokens: c.add_special_tokens ?? true,
    srcLang: c.src_lang,
    tgtLang: c.tgt_lang,
    asTarget: c.as_target ?? false,
  });
  const out: Record<string, number[] | string[] | string> = {
    input_ids: ids,
    tokens: tok.convertIdsToTokens(ids),
    pieces: tok.tokenize(c.text),
    decoded: tok.decode(ids, { skipSpecialTokens: false, cleanUpTokenizationSpaces: true }),
    decoded_skip_special: tok.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: true }),
    decoded_no_cleanup: tok.decode(ids, { skipSpecialTokens: false, cleanUpTokenizationSpaces: false }),
    decoded_skip_special_no_cleanup: tok.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }),
  };
  if (c.text_pair !== undefined) out.pieces_pair = tok.tokenize(c.text_pair);
  return out;
}

const FIELDS = ['input_ids', 'tokens', 'pieces', 'pieces_pair', 'decoded', 'decoded_skip_special', 'decoded_no_cleanup', 'decoded_skip_special_no_cleanup'] as const;

/** Runs a tokenizer fixture (DIR/cases.json + DIR/sentencepiece.bpe.model): exact ids, tokens, pieces, decodes. */
export async function runTokenizerFixture(dir: string, filter?: RegExp): Promise<CaseResult[]> {
  const casesPath = path.join(dir, 'cases.json');
  const doc = readJsonFile(casesPath) as { cases?: TokenizerCase[] };
  if (!Array.isArray(doc.cases)) throw new PolyglotError(`${casesPath}: expected {"cases": [...]}`);
  const spPath = path.join(dir, 'sentencepiece.bpe.model');
  const tokenizers = new Map<string, Tokenizer>();
  const get = async (kind: 'xglm' | 'nllb'): Promise<Tokenizer> => {
    let t = tokenizers.get(kind);
    if (!t) {
      // added_tokens_decoder.<kind>.json pins the ids the way a checkpoint's tokenizer_config.json does.
      const atdPath = path.join(dir, `added_tokens_decoder.${kind}.json`);
      const atd = fs.existsSync(atdPath) ? (readJsonFile(atdPath) as { added_tokens_decoder?: unknown }).added_tokens_decoder : undefined;
      t = await tokenizerFromModel(spPath, kind, { addedTokensDecoder: atd, cleanUpTokenizationSpaces: true });
      tokenizers.set(kind, t);
    }
    return t;
  };
  const fixture = path.basename(dir);
  const results: CaseResult[] = [];
  for (const c of doc.cases) {
    if (filter && !filter.test(c.name)) continue;
    const base = { fixture, case: c.name, kind: 'tokenize', rtol: 0, atol: 0 };
    try {
      if (c.tokenizer !== 'xglm' && c.tokenizer !== 'nllb') throw new PolyglotError(`${casesPath}: case "${c.name}": tokenizer must be "xglm" or "nllb", found ${JSON.stringify(c.tokenizer)}`);
      const actual = computeTokenizerCase(await get(c.tokenizer), c);
      const outputs = FIELDS.filter((f) => c[f] !== undefined).map((f) => compareExact(f, actual[f], c[f]));
      results.push(resultFromOutputs(base, outputs));
    } catch (e) {
      results.push(resultFromError(base, e));
    }
  }
  return results;
}
