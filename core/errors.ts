/**
 * A user-facing error: bad input, a bad checkpoint, a bad option. The CLI prints
 * its message on one line and exits non-zero, without a stack trace.
 * Messages name the file / tensor / field, what was expected and what was found.
 */
export class PolyglotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolyglotError';
  }
}

/** Throws a PolyglotError when `condition` is false. */
export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new PolyglotError(typeof message === 'string' ? message : message());
}
