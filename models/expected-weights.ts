/**
 * Config-vs-checkpoint checks that run before a model is built, on tensor names and shapes only
 * (what an index or a header gives without reading data): a config that asks for 5000 layers or
 * a million experts fails in one line instead of allocating them first.
 */
import { PolyglotError } from '../core/errors.js';
import type { TensorSource } from '../convert/checkpoint.js';

/** Distinct values of the first capture group of `pattern` over the checkpoint's names. */
function indices(names: string[], pattern: RegExp): Set<number> {
  const out = new Set<number>();
  for (const n of names) {
    const m = pattern.exec(n);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

/** The checkpoint must hold exactly `expected` numbered blocks (0..expected-1) matching `pattern`. */
export function expectBlockCount(tensors: TensorSource, pattern: RegExp, expected: number, field: string, what: string, source: string): void {
  const found = indices(tensors.names(), pattern);
  if (found.size !== expected || (expected > 0 && Math.max(...found) !== expected - 1)) {
    throw new PolyglotError(`${source}: field "${field}" is ${expected}, but the checkpoint holds ${found.size} ${what}`);
  }
}

/** The tensor `name` (if the checkpoint has it) must have `shape`. */
export function expectShape(tensors: TensorSource, name: string, shape: number[], fields: string, source: string): void {
  if (!tensors.has(name)) return; // missing tensors are named by the weight loader
  const got = tensors.meta(name).shape;
  if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
    throw new PolyglotError(`${source}: ${fields} give ${name} the shape ${JSON.stringify(shape)}, the checkpoint has ${JSON.stringify(got)}`);
  }
}
