/**
 * The fused native LayerNorm and GELU kernels (backend/native-layer-norm.ts, native-gelu.ts,
 * native/src/norm*) against the tfjs compositions they replace: values and gradients on odd
 * shapes (1 row, many rows, d not a multiple of the vector width, large offsets), every GELU
 * form, the kernels really running (call counters), no tensor left behind. Under a gradient tape
 * the compositions run by default; with the fused kernels on in training (`setFusedOpsInTraining`)
 * their gradient kernels are checked against float64 gradients and tf.grads of the compositions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { useBackend } from './helpers.js';
import { nativeAddon } from '../backend/native.js';
import { fusedOpsCalls, fusedOpsInTraining, setFusedOpsEnabled, setFusedOpsInTraining } from '../backend/native-fused.js';
import { LayerNorm } from '../layers/layer-norm.js';
import { applyActivation, type ActivationName } from '../layers/activations.js';
import { eagerOps } from '../ops/eager.js';

await useBackend('wasm');
test.before.each(async () => {
  await useBackend('wasm');
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** Row r's mean and 1 / sqrt(biased variance + eps) in float64, as torch's layer_norm. */
function rowStats64(x: ArrayLike<number>, r: number, d: number, eps: number): { mean: number; rstd: number } {
  let mean = 0;
  for (let j = 0; j < d; j++) mean += x[r * d + j];
  mean /= d;
  let v = 0;
  for (let j = 0; j < d; j++) v += (x[r * d + j] - mean) ** 2;
  return { mean, rstd: 1 / Math.sqrt(v / d + eps) };
}

/** torch's layer_norm in float64 (biased variance, eps inside the sqrt). */
function layerNorm64(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, d: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / d; r++) {
    const { mean, rstd } = rowStats64(x, r, d, eps);
    for (let j = 0; j < d; j++) out[r * d + j] = (x[r * d + j] - mean) * rstd * gamma[j] + beta[j];
  }
  return out;
}

/** Runs `fn` with the fused kernels on, then off: [fused, tfjs] results (kept). */
function bothWays(fn: () => tf.Tensor[]): [tf.Tensor[], tf.Tensor[]] {
  setFusedOpsEnabled(true);
  try {
    const fused = tf.tidy(fn);
    setFusedOpsEnabled(false);
    const plain = tf.tidy(fn);
    return [fused, plain];
  } finally {
    setFusedOpsEnabled(true);
  }
}

const native = () => nativeAddon() !== undefined;

test('LayerNorm: fused values and gradients (x, gamma, beta) equal the tfjs composition', () => {
  if (!native()) return;
  const rng = new Rng(3);
  for (const [shape, offset] of [[[1, 1, 37], 0], [[3, 5, 64], 1000], [[2, 7, 1030], -3], [[4, 1], 5], [[9, 17], 0]] as [number[], number][]) {
    const d = shape[shape.length - 1];
    const ln = new LayerNorm({ dim: d, hfName: 'ln' });
    const n = shape.reduce((a, b) => a * b, 1);
    const x = tf.tensor(Array.from({ length: n }, () => offset + rng.normal() * 2), shape);
    ln.gamma.write(tf.tensor1d(Array.from({ length: d }, () => 1 + 0.3 * rng.normal())));
    ln.beta.write(tf.tensor1d(Array.from({ length: d }, () => 0.1 * rng.normal())));
    const w = tf.tensor(Array.from({ length: n }, () => rng.normal()), shape);
    const calls = fusedOpsCalls.get('PolyglotLayerNormGrad') ?? 0;
    const before = tf.memory().numTensors;
    const [fused, plain] = bothWays(() => {
      const f = (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(w, lnWith(ln, xx, g, b)));
      const grads = tf.grads(f)([x, ln.gamma.read(), ln.beta.read()]);
      return [lnWith(ln, x, ln.gamma.read(), ln.beta.read()), ...grads];
    });
    // Gradient tapes keep the tfjs composition (backend/native-fused.ts): same gradients, no fused gradient kernel.
    assert.is(fusedOpsCalls.get('PolyglotLayerNormGrad') ?? 0, calls, 'training keeps the tfjs LayerNorm');
    assert.ok((fusedOpsCalls.get('PolyglotLayerNorm') ?? 0) > 0, 'the fused LayerNorm ran');
    // Values against float64: at least as accurate as the composition (both round the mean of
    // large offsets; neither is exact), and within 1e-5 where offsets are small.
    const ref = layerNorm64(x.dataSync(), ln.gamma.read().dataSync(), ln.beta.read().dataSync(), d, 1e-5);
    const err = (t: tf.Tensor) => Math.max(...Array.from(t.dataSync()).map((v, i) => Math.abs(v - ref[i])));
    assert.ok(err(fused[0]) <= Math.max(2 * err(plain[0]), 1e-5), `[${shape}] offset ${offset}: fused error ${err(fused[0])}, composition ${err(plain[0])}`);
    const names = ['y', 'dx', 'dgamma', 'dbeta'];
    fused.forEach((t, i) => {
      if (i === 0) return;
      const scale = Math.max(1, ...Array.from(plain[i].dataSync()).map(Math.abs));
      const diff = maxAbsDiff(t, plain[i]);
      assert.ok(diff <= (offset === 0 ? 2e-5 : 2e-3) * scale, `[${shape}] offset ${offset}: ${names[i]} differs by ${diff} (scale ${scale})`);
    });
    tf.dispose([...fused, ...plain]);
    assert.is(tf.memory().numTensors, before, 'no tensor left behind');
    tf.dispose([x, w]);
    ln.disposeParameters();
  }
});

/** LayerNorm of x with the given gamma/beta tensors (the layer reads its variables; this passes them through the same code). */
function lnWith(ln: LayerNorm, x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor): tf.Tensor {
  const g0 = ln.gamma.read();
  const b0 = ln.beta.read();
  if (g0 === gamma && b0 === beta) return ln.run(eagerOps, x);
  throw new Error('lnWith: expected the layer variables');
}

test('GELU (erf and tanh forms): fused values and input gradients equal the tfjs composition', () => {
  if (!native()) return;
  const rng = new Rng(4);
  for (const name of ['gelu', 'gelu_new', 'gelu_fast', 'gelu_pytorch_tanh'] as ActivationName[]) {
    for (const shape of [[1, 1], [3, 37], [2, 5, 1030]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(Array.from({ length: n }, (_, i) => (i % 11 === 0 ? 12 * rng.normal() : 3 * rng.normal())), shape);
      const before = tf.memory().numTensors;
      const [fused, plain] = bothWays(() => [applyActivation(eagerOps, name, x), tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(applyActivation(eagerOps, name, xx), xx)))(x)]);
      assert.ok(maxAbsDiff(fused[0], plain[0]) <= 2e-6 * 12, `${name} [${shape}]: values differ by ${maxAbsDiff(fused[0], plain[0])}`);
      assert.ok(maxAbsDiff(fused[1], plain[1]) <= 2e-5 * 12, `${name} [${shape}]: gradients differ by ${maxAbsDiff(fused[1], plain[1])}`);
      tf.dispose([...fused, ...plain]);
      assert.is(tf.memory().numTensors, before);
      x.dispose();
    }
  }
  assert.ok((fusedOpsCalls.get('PolyglotGelu') ?? 0) > 0, 'the fused GELU kernel ran');
  assert.is(fusedOpsCalls.get('PolyglotGeluGrad') ?? 0, 0, 'training keeps the tfjs GELU');
});

/** bothWays with the fused kernels also under gradient tapes (their customGrad gradient kernels). */
function bothWaysTraining(fn: () => tf.Tensor[]): [tf.Tensor[], tf.Tensor[]] {
  const was = fusedOpsInTraining();
  setFusedOpsInTraining(true);
  try {
    return bothWays(fn);
  } finally {
    setFusedOpsInTraining(was);
  }
}

/** torch's layer_norm backward in float64 for dy: dx, dgamma, dbeta. */
function layerNormGrad64(x: ArrayLike<number>, gamma: ArrayLike<number>, dy: ArrayLike<number>, d: number, eps: number): Float64Array[] {
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(d);
  const dbeta = new Float64Array(d);
  const xh = new Float64Array(d);
  for (let r = 0; r < x.length / d; r++) {
    const { mean, rstd } = rowStats64(x, r, d, eps);
    let mg = 0;
    let mgx = 0;
    for (let j = 0; j < d; j++) {
      xh[j] = (x[r * d + j] - mean) * rstd;
      const g = dy[r * d + j] * gamma[j];
      mg += g / d;
      mgx += (g * xh[j]) / d;
      dgamma[j] += dy[r * d + j] * xh[j];
      dbeta[j] += dy[r * d + j];
    }
    for (let j = 0; j < d; j++) dx[r * d + j] = rstd * (dy[r * d + j] * gamma[j] - mg - xh[j] * mgx);
  }
  return [dx, dgamma, dbeta];
}

/** max |t - ref| over max(1, max |ref|). */
function relErr(t: tf.Tensor, ref: ArrayLike<number>): number {
  const v = t.dataSync();
  let m = 0;
  let scale = 1;
  for (let i = 0; i < v.length; i++) {
    m = Math.max(m, Math.abs(v[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return m / scale;
}

test('LayerNorm gradient kernel under a tape: dx, dgamma, dbeta against float64 and the composition', () => {
  if (!native()) return;
  const rng = new Rng(5);
  // 1 row; d not a multiple of 8; nllb-moe-tiny's encoder shape with repeated (padding) rows and one
  // large entry; one gradient task; rows split across both threads (40x1000, 2048x64: 2 and 8 tasks); d = 1; a large offset.
  const cases: [number[], number][] = [[[1, 64], 0], [[1, 37], 0], [[3, 12, 64], 0], [[2, 7, 1030], -3], [[40, 1000], 0], [[2048, 64], 0], [[4, 1], 5], [[600, 100], 1000]];
  for (const [shape, offset] of cases) {
    const d = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    const xs = Array.from({ length: n }, () => offset + rng.normal() * 2);
    if (shape.length === 3) {
      for (let r = 9; r < 12; r++) for (let j = 0; j < d; j++) xs[r * d + j] = xs[j];
      xs[11 * d + 5] = 16.6;
    }
    const x = tf.tensor(xs, shape);
    const ln = new LayerNorm({ dim: d, hfName: 'ln' });
    ln.gamma.write(tf.tensor1d(Array.from({ length: d }, () => 1 + 0.3 * rng.normal())));
    ln.beta.write(tf.tensor1d(Array.from({ length: d }, () => 0.1 * rng.normal())));
    const w = tf.tensor(Array.from({ length: n }, () => rng.normal()), shape);
    const calls = fusedOpsCalls.get('PolyglotLayerNormGrad') ?? 0;
    const before = tf.memory().numTensors;
    const [fused, plain] = bothWaysTraining(() => tf.grads((xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(w, lnWith(ln, xx, g, b))))([x, ln.gamma.read(), ln.beta.read()]));
    assert.is(fusedOpsCalls.get('PolyglotLayerNormGrad') ?? 0, calls + 1, `[${shape}]: the fused gradient kernel ran once`);
    const ref = layerNormGrad64(x.dataSync(), ln.gamma.read().dataSync(), w.dataSync(), d, 1e-5);
    ['dx', 'dgamma', 'dbeta'].forEach((name, i) => {
      const ef = relErr(fused[i], ref[i]);
      const ep = relErr(plain[i], ref[i]);
      // float32 rounding of the inputs to the kernel's sums: a few ulps of the largest value
      // (large offsets lose the mean's low bits in both); never worse than twice the composition.
      assert.ok(ef <= (offset === 0 ? 2e-6 : 1e-4), `[${shape}] offset ${offset}: ${name} off float64 by ${ef}`);
      assert.ok(ef <= Math.max(2 * ep, 1e-6), `[${shape}] offset ${offset}: ${name} error ${ef}, composition ${ep}`);
      assert.ok(relErr(fused[i], plain[i].dataSync()) <= (offset === 0 ? 4e-6 : 2e-4), `[${shape}] offset ${offset}: ${name} differs from the composition's`);
    });
    tf.dispose([...fused, ...plain]);
    assert.is(tf.memory().numTensors, before, 'no tensor left behind');
    tf.dispose([x, w]);
    ln.disposeParameters();
  }
});

/** d/dx of 0.5 x (1 + tanh(c (x + 0.044715 x^3))) in float64. */
function tanhGeluGrad64(x: number, c: number): number {
  const t = Math.tanh(c * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
}

test('GELU gradient kernel under a tape (erf and tanh forms): against the composition, and float64 for tanh', () => {
  if (!native()) return;
  const rng = new Rng(6);
  for (const name of ['gelu', 'gelu_new', 'gelu_fast'] as ActivationName[]) {
    for (const shape of [[1, 1], [3, 37], [2, 5, 1030], [9, 4000]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(Array.from({ length: n }, (_, i) => (i % 11 === 0 ? 12 * rng.normal() : 3 * rng.normal())), shape);
      const w = tf.tensor(Array.from({ length: n }, () => rng.normal()), shape);
      const calls = fusedOpsCalls.get('PolyglotGeluGrad') ?? 0;
      const before = tf.memory().numTensors;
      const [fused, plain] = bothWaysTraining(() => [tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(applyActivation(eagerOps, name, xx), w)))(x)]);
      assert.is(fusedOpsCalls.get('PolyglotGeluGrad') ?? 0, calls + 1, `${name} [${shape}]: the fused gradient kernel ran once`);
      // gelu' is in [-0.13, 1.13] and |w| < 5: absolute bounds. The composition's own error
      // (against float64, tanh forms) reaches 1.6e-6 here; the kernel's stays below 5e-7.
      assert.ok(maxAbsDiff(fused[0], plain[0]) <= 4e-6, `${name} [${shape}]: gradients differ by ${maxAbsDiff(fused[0], plain[0])}`);
      if (name !== 'gelu') {
        const c = name === 'gelu_fast' ? 0.7978845608 : Math.sqrt(2 / Math.PI);
        const xv = x.dataSync();
        const wv = w.dataSync();
        const ref = Array.from(xv, (v, i) => wv[i] * tanhGeluGrad64(v, c));
        const err = (t: tf.Tensor) => Math.max(...Array.from(t.dataSync()).map((v, i) => Math.abs(v - ref[i])));
        // 1 - tanh^2 written without cancellation near +-1 (it was 6.8e-6 off as 1 - t * t).
        assert.ok(err(fused[0]) <= 1.5e-6, `${name} [${shape}]: gradient off float64 by ${err(fused[0])} (composition ${err(plain[0])})`);
      }
      tf.dispose([...fused, ...plain]);
      assert.is(tf.memory().numTensors, before);
      tf.dispose([x, w]);
    }
  }
});

test.run();
