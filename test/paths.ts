import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

/** Repository root (the folder holding package.json), from dist/core or core/. */
export function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // dist/test -> repo root, or test -> repo root when run from sources (tsx)
  const up = path.basename(path.dirname(here)) === 'dist' ? '../..' : '..';
  return path.resolve(here, up);
}

/** The shared fixtures folder: $POLYGLOT_SHARED or ../shared beside the checkout. */
export function sharedDir(): string {
  return process.env.POLYGLOT_SHARED ?? path.resolve(packageRoot(), '../shared');
}

export function fixturePath(...parts: string[]): string {
  return path.join(sharedDir(), 'fixtures', ...parts);
}
