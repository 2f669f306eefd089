/** Shared test plumbing: fixture paths, backend set-up, error assertions. */
import * as assert from 'uvu/assert';
import { PolyglotError } from '../core/errors.js';
import { tf } from '../core/tf.js';
import * as path from 'node:path';
import { fixturePath, packageRoot } from './paths.js';
import { selectBackend, type BackendName } from '../backend/select.js';
import type { Rng } from '../core/random.js';

export { fixturePath };

/** The project's own fixtures (test/fixtures/NAME), from sources or from dist/test alike. */
export function projectFixturePath(name: string): string {
  return path.join(packageRoot(), 'test', 'fixtures', name);
}

/** Plain copies of a function's output tensors, computed on one backend. */
export interface HostOutput {
  values: number[];
  shape: number[];
  dtype: string;
}

/** Runs `fn` on `backend` (inputs built there) and returns plain copies of its outputs. */
export async function outputsOn(backend: 'wasm' | 'cpu', fn: () => tf.Tensor[]): Promise<HostOutput[]> {
  await selectBackend(backend);
  const outs = tf.tidy(fn);
  const res = outs.map((t) => ({ values: Array.from(t.dataSync()), shape: t.shape.slice(), dtype: t.dtype }));
  tf.dispose(outs);
  return res;
}

/**
 * Runs `cpuFn` on cpu and `fn` on wasm, asserting that the wasm run leaks neither tensors nor
 * wasm data buffers (which also catches intermediates a kernel forgot to free).
 */
export async function cpuThenWasm(what: string, fn: () => tf.Tensor[], cpuFn = fn): Promise<{ expected: HostOutput[]; actual: HostOutput[] }> {
  const expected = await outputsOn('cpu', cpuFn);
  await selectBackend('wasm');
  const before = tf.memory().numTensors;
  const buffers = (): number => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
  const buffersBefore = buffers();
  const actual = await outputsOn('wasm', fn);
  assert.is(tf.memory().numTensors, before, `${what}: tensors leaked`);
  assert.is(buffers(), buffersBefore, `${what}: wasm buffers leaked`);
  return { expected, actual };
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
    checkOneLineError(e, msg);
    return;
  }
  assert.unreachable(`expected to throw: ${msg}`);
}

/** throwsExactly for a promise; returns the error for further checks (e.g. its kind). */
export async function rejectsExactly(promise: Promise<unknown>, msg: string | RegExp): Promise<PolyglotError> {
  try {
    await promise;
  } catch (e) {
    checkOneLineError(e, msg);
    return e as PolyglotError;
  }
  return assert.unreachable(`expected to reject: ${msg}`) as never;
}

function checkOneLineError(e: unknown, msg: string | RegExp): void {
  assert.ok(e instanceof PolyglotError, `expected PolyglotError, got ${String(e)}`);
  if (typeof msg === 'string') assert.is((e as Error).message, msg);
  else assert.match((e as Error).message, msg);
  assert.not.match((e as Error).message, /\n/);
}

/** Random token ids in [3, vocab) (no special ids), [rows, cols] int32. */
export function randomIds(rng: Rng, rows: number, cols: number, vocab: number): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: rows * cols }, () => 3 + Math.floor(rng.uniform() * (vocab - 3))), [rows, cols], 'int32');
}

/** Two logits tensors [..., vocab] side by side: the largest absolute difference and the share of rows with the same argmax. */
export function logitAgreement(a: tf.Tensor, b: tf.Tensor): { maxAbs: number; top1: number } {
  const x = a.dataSync();
  const y = b.dataSync();
  const v = a.shape[a.shape.length - 1];
  let maxAbs = 0;
  let agree = 0;
  for (let r = 0; r < x.length / v; r++) {
    let ia = 0;
    let ib = 0;
    for (let j = 0; j < v; j++) {
      maxAbs = Math.max(maxAbs, Math.abs(x[r * v + j] - y[r * v + j]));
      if (x[r * v + j] > x[r * v + ia]) ia = j;
      if (y[r * v + j] > y[r * v + ib]) ib = j;
    }
    if (ia === ib) agree++;
  }
  return { maxAbs, top1: agree / (x.length / v) };
}
