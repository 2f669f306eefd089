/** Shared test plumbing: fixture paths, backend set-up, error assertions. */
import * as assert from 'uvu/assert';
import { PolyglotError } from '../core/errors.js';
import * as path from 'node:path';
import { fixturePath, packageRoot } from '../core/paths.js';
import { selectBackend, type BackendName } from '../backend/select.js';

export { fixturePath };

/** The project's own fixtures (test/fixtures/NAME), from sources or from dist/test alike. */
export function projectFixturePath(name: string): string {
  return path.join(packageRoot(), 'test', 'fixtures', name);
}

/** Switches the backend for a test file; tests name wasm or cpu explicitly. */
export async function useBackend(name: BackendName): Promise<string> {
  return selectBackend(name);
}

/**
 * Asserts fn throws a PolyglotError whose message is exactly `msg` (or matches it) and is one line
 * (the CLI prints it as `polyglot: <message>`).
 */
export function throwsExactly(fn: () => unknown, msg: string | RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PolyglotError, `expected PolyglotError, got ${String(e)}`);
    if (typeof msg === 'string') assert.is((e as Error).message, msg);
    else assert.match((e as Error).message, msg);
    assert.not.match((e as Error).message, /\n/);
    return;
  }
  assert.unreachable(`expected to throw: ${msg}`);
}
