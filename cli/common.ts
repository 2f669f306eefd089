/** Options and plumbing shared by every `polyglot` command. */
import type { Argv } from 'yargs';
import { BACKEND_NAMES, selectBackend, type BackendName } from '../backend/select.js';
import { nativeStatus, wasmThreadsInUse, applyWeightPrecision, precisionReportOf, formatExpertCacheStats, PolyglotError, WEIGHTS_CHOICES, type WeightsChoice, type HfParameter, type ExpertStore } from '../index.js';

export interface BackendArgs {
  backend: BackendName;
  quiet?: boolean;
}

/** The `--backend` option, one definition for every command. */
function backendOption<T>(y: Argv<T>, describe: string): Argv<T & { backend: BackendName }> {
  return y.option('backend', { choices: BACKEND_NAMES as BackendName[], default: 'auto' as BackendName, describe }) as unknown as Argv<
    T & { backend: BackendName }
  >;
}

export function withBackend<T>(y: Argv<T>): Argv<T & BackendArgs> {
  return backendOption(y, 'compute backend').option('quiet', { type: 'boolean', default: false, describe: 'less output' }) as unknown as Argv<
    T & BackendArgs
  >;
}

/**
 * `--backend` on a command that does no tensor math (info, convert, tokenize): accepted so
 * every command takes the same flag, and validated, but no backend is started.
 */
export function acceptBackend<T>(y: Argv<T>): Argv<T & { backend: BackendName }> {
  return backendOption(y, 'compute backend (this command does no tensor math)');
}

/** Activates the backend and says which one was chosen (on stderr, so stdout stays clean for --json). */
export async function startBackend(args: BackendArgs): Promise<string> {
  const name = await selectBackend(args.backend);
  // On wasm, the same line says whether the native kernels run (and why not).
  // POLYGLOT_WASM_THREADS=N: the threaded wasm build's thread count comes first.
  const threads = wasmThreadsInUse();
  const detail = `${threads !== undefined ? `wasm threads: ${threads}; ` : ''}${nativeStatus().line}`;
  if (!args.quiet) process.stderr.write(`backend: ${name}${name === 'wasm' ? ` (${detail})` : ''}\n`);
  return name;
}

export interface WeightsArgs {
  /** Absent: as stored (an int8 checkpoint from `polyglot quantize` stays int8, floats compute in float32). */
  weights?: WeightsChoice;
}

/** `--weights int8|bfloat16|float16|float32` (README "Precision"). */
export function withWeights<T>(y: Argv<T>): Argv<T & WeightsArgs> {
  return y.option('weights', {
    choices: WEIGHTS_CHOICES as WeightsChoice[],
    describe: 'precision of the linear weights (int8 / bfloat16 / float16: native kernels, weights outside the wasm heap; auto: as the checkpoint stores them, 16-bit included; default: int8 checkpoints int8, others float32)',
  }) as unknown as Argv<T & WeightsArgs>;
}

/** Applies --weights to a loaded model and says what it did (stderr). */
export function applyWeights(model: { namedParameters(): HfParameter[] }, args: WeightsArgs & { quiet?: boolean }): void {
  // The loader applied it when given --weights (or the checkpoint is int8); a no-op then.
  // `auto` was resolved by the loader from the checkpoint.
  const r = args.weights !== undefined && args.weights !== 'auto' ? applyWeightPrecision(model, args.weights) : precisionReportOf(model);
  if (args.quiet || r.precision === 'float32') return;
  const where = r.native
    ? `, ${(r.nativeBytes / 1e6).toFixed(1)} MB ${r.precision} in native memory`
    : r.precision === 'int8'
      ? ', native kernels absent: float32 products of the dequantised weights'
      : ', native kernels absent: float32 products of the rounded weights';
  process.stderr.write(`weights: ${r.precision} (${r.tensors} tensors${where})\n`);
}

export interface MaxMemoryArgs {
  'max-memory'?: number;
}

/** `--max-memory GB`: weight budget; an NLLB-MoE reads its experts from the checkpoint on demand (README "Expert offloading"). */
export function withMaxMemory<T>(y: Argv<T>): Argv<T & MaxMemoryArgs> {
  return y.option('max-memory', {
    type: 'number',
    describe: 'weight budget in GB (1e9 bytes): an MoE keeps its dense part resident and loads experts from the checkpoint on demand into an LRU cache of the rest',
  }) as unknown as Argv<T & MaxMemoryArgs>;
}

/** The loader option of --max-memory (checked: a positive number). */
export function maxMemoryOption(args: MaxMemoryArgs): { maxMemoryGB?: number } {
  const v = args['max-memory'];
  if (v === undefined) return {};
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new PolyglotError(`--max-memory: expected a positive number of GB, found ${String(v)}`);
  return { maxMemoryGB: v };
}

/** With --max-memory: the expert cache's hits / misses per layer (stderr). */
export function reportExpertCache(model: object & { expertStore?: ExpertStore }, args: { quiet?: boolean }): void {
  if (!args.quiet && model.expertStore) process.stderr.write(`${formatExpertCacheStats(model.expertStore.stats())}\n`);
}
