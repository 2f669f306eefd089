/**
 * The active backend's own float32 matmul rate, the yardstick benches divide by
 * ("achieved / backend matmul"). Times plain 2-D products with fixed operands; each
 * product is read back with dataSync outside any tf.tidy (a tidy around dataSync is
 * about 10x slower: tidy walks the returned array, docs/BACKENDS.md).
 */
import { tf } from '../core/tf.js';

export interface MatmulRateOptions {
  /** [m, k, n] products to time; default [512x512]x[512x2048] and 1024^3 (smaller on cpu). */
  shapes?: [number, number, number][];
  /** Keep timing each shape until this many milliseconds have passed (default 600). */
  minMs?: number;
  /** At least this many timed products per shape (default 3). */
  minReps?: number;
}

export interface MatmulRate {
  backend: string;
  /** Best rate over the shapes, GFLOP/s (2·m·k·n per product). */
  gflops: number;
  /** Rates from the fastest of the timed products (robust to load from other processes). */
  perShape: { m: number; k: number; n: number; gflops: number; msPerProduct: number }[];
}

export const DEFAULT_RATE_SHAPES: [number, number, number][] = [[512, 512, 2048], [1024, 1024, 1024]];
/** The pure-JS cpu backend runs near 1 GFLOP/s: a 1024^3 product would take seconds. */
export const CPU_RATE_SHAPES: [number, number, number][] = [[256, 512, 512]];

function seeded(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

export interface CallTiming {
  /** Mean milliseconds per call. */
  meanMs: number;
  /** Fastest single call: robust to other processes' load on a shared machine. */
  bestMs: number;
  /** Median milliseconds per call. */
  medianMs: number;
  reps: number;
}

/** Times single calls of `fn` (after one untimed warm-up call) until minMs and minReps are both reached. */
export function timeCalls(fn: () => void, minMs: number, minReps: number): CallTiming {
  fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minReps || performance.now() - start < minMs) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return summarise(times);
}

export function summarise(times: number[]): CallTiming {
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return {
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    bestMs: sorted[0],
    medianMs: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    reps: times.length,
  };
}

export async function measureMatmulGflops(opts: MatmulRateOptions = {}): Promise<MatmulRate> {
  await tf.ready();
  const backend = tf.getBackend();
  const shapes = opts.shapes ?? (backend === 'cpu' ? CPU_RATE_SHAPES : DEFAULT_RATE_SHAPES);
  const minMs = opts.minMs ?? 600;
  const minReps = opts.minReps ?? 3;
  const perShape: MatmulRate['perShape'] = [];
  for (const [m, k, n] of shapes) {
    const a = tf.tensor2d(seeded(m * k, 1), [m, k]);
    const b = tf.tensor2d(seeded(k * n, 2), [k, n]);
    const ms = timeCalls(() => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    }, minMs, minReps).bestMs;
    a.dispose();
    b.dispose();
    perShape.push({ m, k, n, gflops: (2 * m * k * n) / (ms * 1e6), msPerProduct: ms });
  }
  return { backend, gflops: Math.max(...perShape.map((p) => p.gflops)), perShape };
}
