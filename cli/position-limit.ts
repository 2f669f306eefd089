/** The position-limit warning on stderr, once per run (core/position-limit.ts has the words). */
import { pastPositionLimitMessage } from '../core/position-limit.js';

let warned = false;

/** Warns (stderr, once; also with --quiet) when `what` has more than `limit` tokens. */
export function warnPastPositionLimit(what: string, length: number, limit: number): void {
  if (warned || length <= limit) return;
  warned = true;
  process.stderr.write(`warning: ${pastPositionLimitMessage(what, length, limit)}\n`);
}
