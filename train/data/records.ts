/** Parsing one corpus line into a training record, with errors that name file:line and field. */
import { PolyglotError } from '../../core/errors.js';

export type TextFormat = 'text' | 'jsonl';

/** `.jsonl` / `.json` files are JSON lines, anything else plain text (one document a line). */
export function formatOf(file: string): TextFormat {
  return /\.jsonl?$/i.test(file) ? 'jsonl' : 'text';
}

function parseJson(line: string, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new PolyglotError(`${where}: expected a JSON object, found invalid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolyglotError(`${where}: expected a JSON object, found ${Array.isArray(v) ? 'an array' : typeof v}`);
  return v as Record<string, unknown>;
}

/** The document text of a causal-LM line: the line itself, or the `field` of a JSON line. */
export function textRecord(line: string, format: TextFormat, field: string, where: string): string {
  if (format === 'text') return line;
  const o = parseJson(line, where);
  const t = o[field];
  if (typeof t !== 'string') throw new PolyglotError(`${where}: expected a string field "${field}", found ${t === undefined ? 'none' : typeof t}`);
  return t;
}

export interface TranslationRecord {
  src: string;
  tgt: string;
  srcLang: string;
  tgtLang: string;
}

/** A parallel-corpus line `{"src", "tgt", "src_lang", "tgt_lang", ...}`; languages may come from defaults. */
export function translationRecord(line: string, where: string, defaults: { srcLang?: string; tgtLang?: string } = {}): TranslationRecord {
  const o = parseJson(line, where);
  const str = (k: string, dflt?: string): string => {
    const v = o[k] ?? dflt;
    if (typeof v !== 'string') throw new PolyglotError(`${where}: expected a string field "${k}", found ${v === undefined ? 'none' : typeof v}`);
    return v;
  };
  return { src: str('src'), tgt: str('tgt'), srcLang: str('src_lang', defaults.srcLang), tgtLang: str('tgt_lang', defaults.tgtLang) };
}
