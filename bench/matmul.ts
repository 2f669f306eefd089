/**
 * Matrix-product rates of the active backend for the shapes our models run:
 * linear layers and their backprop products, attention (training and decode), a tied
 * lm_head (few rows times a transposed 256k x 1024 embedding), and a training-step-like
 * sequence (one transformer block forward + backward). On wasm every case is timed with
 * the stock kernel and with our override (backend/wasm-batch-matmul.ts), and, when the
 * native addon is active (backend/native.ts), with its kernels on 1 and on 2 threads.
 *
 * Variants of one case are timed round-robin and rated by their fastest call, so load
 * from other processes on a shared machine hits them alike (bench/common.ts).
 * Options: --quick (shorter timing, smaller lm_head), --full (the real 256008-row
 * lm_head: 1 GB), --sweep (batched GEMM-vs-loop table used for `batchedPlan`).
 */
import { tf } from '../core/tf.js';
import { setBatchedStrategy, setMatMulOverrideEnabled } from '../backend/wasm-batch-matmul.js';
import { setTransposeOverrideEnabled } from '../backend/wasm-transpose.js';
import { nativeAddon } from '../backend/native.js';
import { setNativeMatMulEnabled } from '../backend/native-matmul.js';
import { measureInterleaved, result, type Bench, type BenchContext, type BenchResult } from './common.js';

function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -0.5, 0.5, 'float32', seed);
}

/** `native`: the addon's kernels on that many threads (the others run with it off). */
type Variant = { label: string; stock: boolean; batched?: 'auto' | 'gemm' | 'loop'; native?: number };

function variants(ctx: BenchContext, batched: boolean): Variant[] {
  if (ctx.backend !== 'wasm') return [{ label: ctx.backend, stock: true }];
  const v: Variant[] = [{ label: 'stock', stock: true }, { label: 'override', stock: false }];
  if (batched) v.push({ label: 'override-gemm', stock: false, batched: 'gemm' }, { label: 'override-loop', stock: false, batched: 'loop' });
  if (nativeAddon() !== undefined) v.push({ label: 'native-1t', stock: false, native: 1 }, { label: 'native-2t', stock: false, native: 2 });
  return v;
}

function withVariant<R>(v: Variant, fn: () => R): R {
  const addon = nativeAddon();
  setMatMulOverrideEnabled(!v.stock);
  setTransposeOverrideEnabled(!v.stock);
  setBatchedStrategy(v.batched ?? 'auto');
  setNativeMatMulEnabled(v.native !== undefined);
  if (addon !== undefined && v.native !== undefined && addon.threads() !== v.native) addon.setThreads(v.native);
  try {
    return fn();
  } finally {
    setMatMulOverrideEnabled(true);
    setTransposeOverrideEnabled(true);
    setBatchedStrategy('auto');
    setNativeMatMulEnabled(true);
  }
}

function timeProduct(ctx: BenchContext, name: string, sa: number[], sb: number[], ta: boolean, tb: boolean, batched: boolean): BenchResult[] {
  const a = rand(sa, 1);
  const b = rand(sb, 2);
  const out: BenchResult[] = [];
  const probe = tf.matMul(a, b, ta, tb);
  const os = probe.shape;
  probe.dispose();
  const k = ta ? sa[sa.length - 2] : sa[sa.length - 1];
  const flops = 2 * k * os.reduce((p, q) => p * q, 1);
  const vs = variants(ctx, batched);
  const ts = measureInterleaved(vs.map((v) => () => withVariant(v, () => {
    const c = tf.matMul(a, b, ta, tb);
    c.dataSync();
    c.dispose();
  })), { minMs: ctx.quick ? 200 : 700, minReps: 3 });
  vs.forEach((v, i) => {
    out.push(result(ctx, `${name} [${v.label}]`, { ms: ts[i].bestMs, flops, extra: { a: sa.join('x'), b: sb.join('x'), transposeA: ta, transposeB: tb, variant: v.label, medianMs: ts[i].medianMs } }));
  });
  tf.dispose([a, b]);
  return out;
}

/** Transposes of large matrices (weights at load time, explicit transposes). */
function timeTranspose(ctx: BenchContext, shape: number[]): BenchResult[] {
  const x = rand(shape, 1);
  const out: BenchResult[] = [];
  const vs = variants(ctx, false);
  const ts = measureInterleaved(vs.map((v) => () => withVariant(v, () => {
    const y = tf.transpose(x);
    y.dataSync();
    y.dispose();
  })), { minMs: ctx.quick ? 200 : 700, minReps: 3 });
  vs.forEach((v, i) => {
    out.push(result(ctx, `transpose [${shape.join('x')}] [${v.label}]`, { ms: ts[i].bestMs, extra: { nsPerElement: (ts[i].bestMs * 1e6) / x.size } }));
  });
  x.dispose();
  return out;
}

/** Tied lm_head logits: h[M, d] · E[V, d]ᵀ, also the explicit-transpose alternative. */
function lmHead(ctx: BenchContext, m: number, vocab: number, d: number): BenchResult[] {
  const out = timeProduct(ctx, `lm_head h[${m}x${d}] x E[${vocab}x${d}]^T`, [m, d], [vocab, d], false, true, false);
  if (ctx.backend === 'wasm') {
    const h = rand([m, d], 3);
    const e = rand([vocab, d], 4);
    const [t] = measureInterleaved([() => {
      const c = tf.tidy(() => tf.matMul(h, tf.transpose(e)));
      c.dataSync();
      c.dispose();
    }], { minMs: ctx.quick ? 200 : 700, minReps: 2 });
    out.push(result(ctx, `lm_head h[${m}x${d}] x E[${vocab}x${d}]^T [explicit E^T per call]`, { ms: t.bestMs, flops: 2 * m * d * vocab }));
    tf.dispose([h, e]);
  }
  return out;
}

/**
 * One transformer block forward + backward on [batch·seq, d] tokens (pre-LN omitted:
 * the matmuls are the point): QKV and output projections, 8-head attention, a
 * d->4d->d ReLU MLP. FLOPs counted for matmuls only, x3 for forward + backward.
 */
function trainingStep(ctx: BenchContext): BenchResult[] {
  const batch = 4, seq = 128, d = 512, heads = 8, ffn = 2048;
  const dh = d / heads;
  const tokens = batch * seq;
  const x = rand([tokens, d], 5);
  const ws = [rand([d, 3 * d], 6), rand([d, d], 7), rand([d, ffn], 8), rand([ffn, d], 9)].map((w) => tf.variable(tf.mul(w, 0.1)));
  const loss = (): tf.Scalar => {
    const qkv = tf.matMul(x, ws[0]); // [T, 3d]
    const split = (i: number) => tf.transpose(tf.reshape(tf.slice(qkv, [0, i * d], [tokens, d]), [batch, seq, heads, dh]), [0, 2, 1, 3]);
    const q = tf.reshape(split(0), [batch * heads, seq, dh]);
    const kk = tf.reshape(split(1), [batch * heads, seq, dh]);
    const v = tf.reshape(split(2), [batch * heads, seq, dh]);
    const att = tf.softmax(tf.mul(tf.matMul(q, kk, false, true), 1 / Math.sqrt(dh)));
    const ctxv = tf.reshape(tf.transpose(tf.reshape(tf.matMul(att, v), [batch, heads, seq, dh]), [0, 2, 1, 3]), [tokens, d]);
    const h = tf.add(x, tf.matMul(ctxv, ws[1]));
    const y = tf.add(h, tf.matMul(tf.relu(tf.matMul(h, ws[2])), ws[3]));
    return tf.mean(tf.square(y));
  };
  const matmulFlops = 2 * tokens * d * 3 * d + 2 * tokens * d * d + 2 * 2 * tokens * d * ffn + 2 * 2 * batch * heads * seq * seq * dh;
  const out: BenchResult[] = [];
  const vs = variants(ctx, false);
  const ts = measureInterleaved(vs.map((v) => () => withVariant(v, () => {
    const { value, grads } = tf.variableGrads(loss, ws);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  })), { minMs: ctx.quick ? 500 : 2500, minReps: 2 });
  vs.forEach((v, i) => {
    out.push(result(ctx, `training-step block d${d} ffn${ffn} h${heads} ${batch}x${seq} tokens [${v.label}]`, { ms: ts[i].bestMs, flops: 3 * matmulFlops, tokens, extra: { medianMs: ts[i].medianMs } }));
  });
  tf.dispose([x, ...ws]);
  return out;
}

export const matmulBench: Bench = {
  name: 'matmul',
  description: 'matmul rates for model shapes (stock vs override vs native 1/2 threads on wasm), lm_head, a training-step-like block',
  async run(ctx) {
    if (ctx.options['sweep'] === true && ctx.backend === 'wasm') {
      const out: BenchResult[] = [];
      for (const [bh, k, n] of [[32, 64, 128], [32, 128, 64], [16, 64, 32], [16, 64, 512]]) {
        for (const m of [1, 2, 4, 8, 16, 32, 128]) {
          for (const s of ['gemm', 'loop'] as const) {
            const a = rand([bh, m, k], 1);
            const b = rand([bh, k, n], 2);
            const [t] = measureInterleaved([() => withVariant({ label: s, stock: false, batched: s }, () => {
              const c = tf.matMul(a, b);
              c.dataSync();
              c.dispose();
            })], { minMs: 150, minReps: 3 });
            out.push(result(ctx, `sweep ${s} [${bh},${m},${k}]x[${bh},${k},${n}]`, { ms: t.bestMs, flops: 2 * bh * m * k * n }));
            tf.dispose([a, b]);
          }
        }
      }
      return out;
    }
    const out: BenchResult[] = [];
    const L = '[512x512]x[512x2048]';
    out.push(...timeProduct(ctx, L, [512, 512], [512, 2048], false, false, false));
    out.push(...timeProduct(ctx, `${L} transposeB (dX)`, [512, 512], [2048, 512], false, true, false));
    out.push(...timeProduct(ctx, `${L} transposeA (dW)`, [512, 512], [512, 2048], true, false, false));
    out.push(...timeProduct(ctx, `${L} transposeA+B`, [512, 512], [2048, 512], true, true, false));
    out.push(...timeProduct(ctx, 'rank-3 x rank-2 [4,128,512]x[512,2048]', [4, 128, 512], [512, 2048], false, false, false));
    out.push(...timeProduct(ctx, 'attention PV [32,128,128]x[32,128,64]', [32, 128, 128], [32, 128, 64], false, false, true));
    out.push(...timeProduct(ctx, 'attention [32,128,64]x[32,64,128]', [32, 128, 64], [32, 64, 128], false, false, true));
    out.push(...timeProduct(ctx, 'attention QK^T [32,128,64]x[32,128,64]^T', [32, 128, 64], [32, 128, 64], false, true, true));
    out.push(...timeProduct(ctx, 'decode QK^T [16,1,64]x[16,256,64]^T', [16, 1, 64], [16, 256, 64], false, true, true));
    out.push(...timeProduct(ctx, 'decode PV [16,1,256]x[16,256,64]', [16, 1, 256], [16, 256, 64], false, false, true));
    out.push(...timeTranspose(ctx, [2048, 512]));
    out.push(...timeTranspose(ctx, [1024, 4096]));
    const vocab = ctx.options['full'] === true ? 256008 : ctx.quick ? 16000 : 64000;
    for (const m of [1, 8]) out.push(...lmHead(ctx, m, vocab, 1024));
    out.push(...trainingStep(ctx));
    return out;
  },
};
