/**
 * A nesting bound for untrusted JSON, checked on the text before JSON.parse: deeply nested
 * arrays/objects parse, but any recursive walk of the result (describing it in an error,
 * copying it) would then overflow the stack. Real configs, indexes and safetensors headers
 * nest a handful of levels.
 */
import { PolyglotError } from '../core/errors.js';

export const MAX_JSON_DEPTH = 64;

/** Throws a PolyglotError naming `source` when `text` nests arrays/objects deeper than `maxDepth`. */
export function checkJsonNesting(text: string, source: string, maxDepth = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) throw new PolyglotError(`${source}: JSON nests deeper than ${maxDepth} levels (at character ${i})`);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}
