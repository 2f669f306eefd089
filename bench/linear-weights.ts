/**
 * One linear layer's product x · W by weight format, interleaved round-robin in one process so
 * machine load hits every variant alike (bench/common.ts measureInterleaved): float32 (tfjs
 * matMul, the native float32 GEMM when the addon is on), int8 (weight-only, native/src/q8*),
 * bfloat16 and float16 (native/src/w16*, widened in registers, float32 activations), and bf16
 * with bf16 activations (AVX-512 BF16 vdpbf16ps, `w16Mode('bf16dot')`, where the CPU has it).
 * Shapes: XGLM-564M's FFN (fc1 1024 -> 4096, fc2 4096 -> 1024) at 1 row (decode) and 128 rows
 * (a prompt). Also each variant's error against a float64 product of the same stored weights
 * (max |err| / max |y|): the cost of bf16 activations. Options: --rows a,b (default 1,128).
 * --stream N: decode GEMVs streamed from memory instead: N copies of each weight (like N layers)
 * multiplied in turn by one row, on XGLM-564M's q/k/v/out (1024 -> 1024), fused q/k/v (1024 -> 3072)
 * and FFN shapes; reports each format's weight GB/s beside `addon.streamProbe`. Take N >= 24 so the
 * copies of the 1 MB shape exceed the last-level cache. The timings include tfjs dispatch.
 */
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { nativeAddon } from '../backend/native.js';
import { quantizeInt8Rows, dequantizeInt8 } from '../backend/int8-weights.js';
import { Int8Linear } from '../backend/native-int8.js';
import { W16Linear } from '../backend/native-w16.js';
import { w16FromRows, w16ToKernel } from '../backend/w16-weights.js';
import { measureInterleaved, result, type Bench, type BenchResult } from './common.js';

interface Variant {
  name: string;
  run: (x: tf.Tensor2D) => tf.Tensor;
  /** The weight as the product sees it, [in, out] float32 (for the error reference). */
  weight: Float32Array;
  before?: () => void;
  after?: () => void;
  dispose: () => void;
}

function relError(x: Float32Array, w: Float32Array, rows: number, k: number, n: number, got: Float32Array): number {
  let maxErr = 0;
  let maxY = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let kk = 0; kk < k; kk++) s += x[i * k + kk] * w[kk * n + j];
      maxY = Math.max(maxY, Math.abs(s));
      maxErr = Math.max(maxErr, Math.abs(s - got[i * n + j]));
    }
  }
  return maxErr / maxY;
}

export const linearWeightsBench: Bench = {
  name: 'linear-weights',
  description: 'x · W by weight format (float32, int8, bfloat16, float16, bf16 activations) on XGLM-564M FFN shapes, 1 and 128 rows, interleaved',
  async run(ctx) {
    const addon = nativeAddon();
    if (addon === undefined || tf.getBackend() !== 'wasm') return [{ name: 'linear-weights: needs the native addon and the wasm backend', backend: ctx.backend }];
    if (typeof ctx.options['stream'] === 'string') return streamed(ctx, Number(ctx.options['stream']));
    const rowsList = typeof ctx.options['rows'] === 'string' ? ctx.options['rows'].split(',').map(Number) : [1, 128];
    const out: BenchResult[] = [];
    const rng = new Rng(1);
    for (const [k, n] of [
      [1024, 4096],
      [4096, 1024],
    ]) {
      // Weights as HF stores them, [out, in], ~N(0, 0.02) (XGLM's init_std).
      const rows16 = Float32Array.from({ length: n * k }, () => rng.normal() * 0.02);
      const kernel = new Float32Array(k * n);
      for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) kernel[i * n + j] = rows16[j * k + i];
      const f32 = tf.tensor2d(kernel, [k, n]);
      const q8 = quantizeInt8Rows(rows16, n, k);
      const i8 = new Int8Linear(q8);
      const bf = w16FromRows(rows16, n, k, 'bfloat16');
      const h16 = w16FromRows(rows16, n, k, 'float16');
      const lbf = new W16Linear(bf);
      const lh = new W16Linear(h16);
      const variants: Variant[] = [
        { name: 'float32', run: (x) => tf.matMul(x, f32), weight: kernel, dispose: () => f32.dispose() },
        { name: 'int8', run: (x) => i8.apply(x), weight: dequantizeInt8(q8), dispose: () => i8.dispose() },
        { name: 'bfloat16', run: (x) => lbf.apply(x), weight: w16ToKernel(bf), dispose: () => lbf.dispose() },
        { name: 'float16', run: (x) => lh.apply(x), weight: w16ToKernel(h16), dispose: () => lh.dispose() },
      ];
      const hasDot = addon.w16Mode('bf16dot') === 'bf16dot';
      addon.w16Mode('float');
      if (hasDot) {
        variants.push({
          name: 'bfloat16 x bf16 activations (vdpbf16ps)',
          run: (x) => {
            addon.w16Mode('bf16dot');
            try {
              return lbf.apply(x);
            } finally {
              addon.w16Mode('float');
            }
          },
          weight: variants[2].weight,
          dispose: () => undefined,
        });
      }
      for (const rows of rowsList) {
        const xs = Float32Array.from({ length: rows * k }, () => rng.normal());
        const x = tf.tensor2d(xs, [rows, k]);
        const errors = variants.map((v) => {
          const y = v.run(x);
          const e = relError(xs, v.weight, Math.min(rows, 4), k, n, (y.dataSync() as Float32Array).subarray(0, Math.min(rows, 4) * n));
          y.dispose();
          return e;
        });
        const timings = measureInterleaved(
          variants.map((v) => () => {
            const y = v.run(x);
            y.dataSync();
            y.dispose();
          }),
          { minMs: ctx.quick ? 200 : 1000, minReps: 3 },
        );
        variants.forEach((v, i) => {
          const weightBytes = v.name === 'float32' ? 4 * k * n : v.name === 'int8' ? k * n + 4 * n : 2 * k * n;
          out.push(
            result(ctx, `linear [${rows}x${k}]·[${k}x${n}] ${v.name}`, {
              ms: timings[i].bestMs,
              tokens: rows,
              flops: 2 * rows * k * n,
              extra: { medianMs: +timings[i].medianMs.toFixed(3), weightMB: +(weightBytes / 1e6).toFixed(1), weightGBps: +(weightBytes / (timings[i].bestMs * 1e6)).toFixed(1), relErrorVsFloat64: +errors[i].toExponential(2) },
            }),
          );
        });
        x.dispose();
      }
      for (const v of variants) v.dispose();
    }
    return out;
  },
};

/** --stream: one row times `copies` weights of each shape in turn, so every call reads its weight from memory. */
function streamed(ctx: Parameters<Bench['run']>[0], copies: number): BenchResult[] {
  const addon = nativeAddon()!;
  const rng = new Rng(2);
  const out: BenchResult[] = [];
  for (const [k, n] of [
    [1024, 1024],
    [1024, 3072],
    [1024, 4096],
    [4096, 1024],
  ]) {
    const rows = Float32Array.from({ length: n * k }, () => rng.normal() * 0.02);
    const kernel = new Float32Array(k * n);
    for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) kernel[i * n + j] = rows[j * k + i];
    const formats: { name: string; bytes: number; make: () => { run: (x: tf.Tensor2D) => tf.Tensor; dispose: () => void } }[] = [
      { name: 'float32', bytes: 4 * k * n, make: () => { const t = tf.tensor2d(kernel, [k, n]); return { run: (x) => tf.matMul(x, t), dispose: () => t.dispose() }; } },
      { name: 'int8', bytes: k * n + 4 * n, make: () => { const l = new Int8Linear(quantizeInt8Rows(rows, n, k)); return { run: (x) => l.apply(x), dispose: () => l.dispose() }; } },
      { name: 'bfloat16', bytes: 2 * k * n, make: () => { const l = new W16Linear(w16FromRows(rows, n, k, 'bfloat16')); return { run: (x) => l.apply(x), dispose: () => l.dispose() }; } },
    ];
    const stacks = formats.map((f) => Array.from({ length: copies }, () => f.make()));
    const x = tf.tensor2d(Float32Array.from({ length: k }, () => rng.normal()), [1, k]);
    const timings = measureInterleaved(
      stacks.map((stack) => () => {
        for (const l of stack) l.run(x).dispose();
      }),
      { minMs: ctx.quick ? 200 : 1000, minReps: 3 },
    );
    formats.forEach((f, i) => {
      const ms = timings[i].bestMs / copies;
      out.push(
        result(ctx, `streamed GEMV [1x${k}]·[${k}x${n}] ${f.name} (${copies} copies)`, {
          ms,
          tokens: 1,
          flops: 2 * k * n,
          extra: { medianMs: +(timings[i].medianMs / copies).toFixed(4), weightMB: +(f.bytes / 1e6).toFixed(1), weightGBps: +(f.bytes / (ms * 1e6)).toFixed(1), medianGBps: +((f.bytes * copies) / (timings[i].medianMs * 1e6)).toFixed(1) },
        }),
      );
    });
    x.dispose();
    for (const stack of stacks) for (const l of stack) l.dispose();
  }
  out.push({ name: `streamProbe (256 MB read, ${addon.threads()} threads): ${addon.streamProbe(256e6, 5).toFixed(1)} GB/s`, backend: ctx.backend });
  return out;
}
