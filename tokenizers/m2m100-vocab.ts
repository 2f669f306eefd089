/**
 * `vocab.json` of an M2M100Tokenizer (facebook/m2m100_*): the fairseq dictionary as
 * {piece: id}, `<s> <pad> </s> <unk>` then the sentencepiece pieces (128004 entries for
 * m2m100_418M / 1.2B). Language tokens are numbered after it, so its ids must run 0..N-1.
 */
import { PolyglotError } from '../core/errors.js';
import { readJsonFile } from '../convert/checkpoint.js';

/** The pieces of vocab.json by id (index = id), after checking every entry. */
export function readM2M100Vocab(file: string): string[] {
  return parseM2M100Vocab(readJsonFile(file), file);
}

/** Checks a parsed vocab.json: an object of piece -> integer id, ids 0..N-1 each used once. */
export function parseM2M100Vocab(json: unknown, file: string): string[] {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PolyglotError(`${file}: expected a JSON object of piece -> id, found ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}`);
  }
  const entries = Object.entries(json as Record<string, unknown>);
  if (entries.length === 0) throw new PolyglotError(`${file}: expected a JSON object of piece -> id, found an empty object`);
  const byId: (string | undefined)[] = new Array(entries.length);
  for (const [piece, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new PolyglotError(`${file}: ${JSON.stringify(piece).slice(0, 60)}: expected an integer id >= 0, found ${JSON.stringify(id)?.slice(0, 40)}`);
    }
    // M2M100Tokenizer numbers the language tokens from len(vocab.json): an id at or past it would be given twice.
    if (id >= entries.length) {
      throw new PolyglotError(`${file}: ${JSON.stringify(piece).slice(0, 60)}: id ${id} is too large (expected ids 0..${entries.length - 1}: the file has ${entries.length} entries, and language tokens are numbered from ${entries.length})`);
    }
    const prev = byId[id];
    if (prev !== undefined) throw new PolyglotError(`${file}: id ${id} is given to both ${JSON.stringify(prev).slice(0, 60)} and ${JSON.stringify(piece).slice(0, 60)} (expected each id once)`);
    byId[id] = piece;
  }
  // N entries, ids < N, no id twice: every id 0..N-1 is used.
  return byId as string[];
}
