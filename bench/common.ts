/**
 * Benchmark plumbing: timing, tokens/s, and the report line every bench prints:
 *   "<name>: X tokens/s, achieved Y GFLOP/s, backend matmul Z GFLOP/s, ratio Y/Z"
 * (tokens/s is left out for benches that do not process tokens). Benches are never
 * tests: they report, they do not assert speeds.
 */
import { summarise, timeCalls, type CallTiming } from '../backend/matmul-rate.js';

export { timeCalls, summarise, type CallTiming };

export interface BenchContext {
  /** tfjs backend name that is active ('wasm', 'cpu', 'tensorflow'). */
  backend: string;
  /** The backend's own matmul rate (backend/matmul-rate.ts), GFLOP/s. */
  matmulGflops: number;
  /** Smaller problem sizes / shorter timing (CI smoke runs). */
  quick: boolean;
  /** Extra `--key value` / `--flag` command-line options for the bench. */
  options: Record<string, string | boolean>;
}

export interface BenchResult {
  name: string;
  backend: string;
  tokensPerSec?: number;
  /** Achieved floating-point rate of the work measured, GFLOP/s. */
  achievedGflops?: number;
  /** The backend's own matmul rate used for the ratio. */
  backendGflops?: number;
  /** achievedGflops / backendGflops. */
  ratio?: number;
  msPerIteration?: number;
  /** Anything else worth recording (shapes, strategy, ...). */
  extra?: Record<string, number | string | boolean>;
}

export interface Bench {
  name: string;
  description: string;
  /** Runs only when named (writes GBs, starts processes): not part of a plain `npm run bench`. */
  onlyByName?: boolean;
  run(ctx: BenchContext): Promise<BenchResult[]>;
}

export interface Timing extends CallTiming {
  /** Mean milliseconds per call (= meanMs). */
  msPerIteration: number;
  /** Timed calls (= reps). */
  iterations: number;
}

function withMean(t: CallTiming): Timing {
  return { ...t, msPerIteration: t.meanMs, iterations: t.reps };
}

/** Times `fn` (one untimed warm-up call, then single calls until minMs and minReps are both reached). */
export function measure(fn: () => void, opts: { minMs?: number; minReps?: number } = {}): Timing {
  return withMean(timeCalls(fn, opts.minMs ?? 1000, opts.minReps ?? 3));
}

/**
 * Times several variants of the same work round-robin (A, B, A, B, ...) so that load
 * from other processes hits them alike; each gets one untimed warm-up call. Compare
 * variants by `bestMs` (or `medianMs`).
 */
export function measureInterleaved(fns: (() => void)[], opts: { minMs?: number; minReps?: number } = {}): Timing[] {
  const minMs = opts.minMs ?? 1000;
  const minReps = opts.minReps ?? 3;
  for (const f of fns) f();
  const times: number[][] = fns.map(() => []);
  const start = performance.now();
  while (times[0].length < minReps || performance.now() - start < minMs * fns.length) {
    fns.forEach((f, i) => {
      const t0 = performance.now();
      f();
      times[i].push(performance.now() - t0);
    });
  }
  return times.map((t) => withMean(summarise(t)));
}

export function tokensPerSecond(tokens: number, ms: number): number {
  return (tokens * 1000) / ms;
}

export function gflopsOf(flops: number, ms: number): number {
  return flops / (ms * 1e6);
}

/** Builds a result from what was measured; ratio filled in from the context's matmul rate. */
export function result(
  ctx: BenchContext,
  name: string,
  t: { ms: number; flops?: number; tokens?: number; extra?: BenchResult['extra'] },
): BenchResult {
  const r: BenchResult = { name, backend: ctx.backend, msPerIteration: t.ms };
  if (t.tokens !== undefined) r.tokensPerSec = tokensPerSecond(t.tokens, t.ms);
  if (t.flops !== undefined) {
    r.achievedGflops = gflopsOf(t.flops, t.ms);
    r.backendGflops = ctx.matmulGflops;
    r.ratio = r.achievedGflops / ctx.matmulGflops;
  }
  if (t.extra !== undefined) r.extra = t.extra;
  return r;
}

function fmt(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toPrecision(3);
}

/** The one-line human report. */
export function formatResult(r: BenchResult): string {
  const parts: string[] = [];
  if (r.tokensPerSec !== undefined) parts.push(`${fmt(r.tokensPerSec)} tokens/s`);
  if (r.achievedGflops !== undefined) parts.push(`achieved ${fmt(r.achievedGflops)} GFLOP/s`);
  if (r.backendGflops !== undefined) parts.push(`backend matmul ${fmt(r.backendGflops)} GFLOP/s`);
  if (r.ratio !== undefined) parts.push(`ratio ${r.ratio.toFixed(2)}`);
  if (parts.length === 0 && r.msPerIteration !== undefined) parts.push(`${fmt(r.msPerIteration)} ms`);
  else if (r.msPerIteration !== undefined) parts.push(`(${fmt(r.msPerIteration)} ms/iter)`);
  return `${r.name}: ${parts.join(', ')}`;
}

/** Options that never take a value (`--json=path` still can). */
const FLAGS = new Set(['quick', 'list', 'json', 'full', 'sweep', 'help', 'profile', 'release-table']);

/** Parses `[names...] --backend x --json[=file] --quick --key value` style arguments. */
export function parseBenchArgs(argv: string[]): { names: string[]; options: Record<string, string | boolean> } {
  const names: string[] = [];
  const options: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) {
        options[arg.slice(2, eq)] = arg.slice(eq + 1);
      } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--') && !FLAGS.has(arg.slice(2))) {
        options[arg.slice(2)] = argv[++i];
      } else {
        options[arg.slice(2)] = true;
      }
    } else {
      names.push(arg);
    }
  }
  return { names, options };
}
