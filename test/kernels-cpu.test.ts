/**
 * The cpu UnsortedSegmentSum we register (backend/cpu-kernels.ts) against the stock kernel:
 * bit-identical numbers, and memory bounded by its input and output (the stock kernel keeps
 * five intermediates per segment, which made `--backend cpu` training crawl and grow by GBs).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { useBackend } from './helpers.js';
import { registerCpuKernels, cpuUnsortedSegmentSumConfig } from '../backend/cpu-kernels.js';

await useBackend('cpu');
const stock = registerCpuKernels();

function withKernel<T>(config: tf.KernelConfig, fn: () => T): T {
  tf.unregisterKernel(tf.UnsortedSegmentSum, 'cpu');
  tf.registerKernel(config);
  try {
    return fn();
  } finally {
    tf.unregisterKernel(tf.UnsortedSegmentSum, 'cpu');
    tf.registerKernel(cpuUnsortedSegmentSumConfig);
  }
}

function segmentSum(x: number[], xShape: number[], ids: number[], n: number, dtype: 'float32' | 'int32' = 'float32'): Float32Array | Int32Array {
  return tf.tidy(() => tf.unsortedSegmentSum(tf.tensor(x, xShape, dtype), tf.tensor1d(ids, 'int32'), n).dataSync() as Float32Array | Int32Array);
}

test('selectBackend("cpu") registers our kernel', () => {
  assert.ok(stock !== undefined, 'the stock kernel was registered before');
  assert.is(tf.getKernel(tf.UnsortedSegmentSum, 'cpu')?.kernelFunc, cpuUnsortedSegmentSumConfig.kernelFunc);
});

test('same bits as the stock kernel: float rows, flat, int32, repeated and out-of-range ids', () => {
  const rng = new Rng(3);
  const cases: [number[], number[], number, 'float32' | 'int32'][] = [
    [[40, 7], [40], 9, 'float32'],
    [[300], [300], 120, 'float32'],
    [[25, 2], [25], 6, 'int32'],
  ];
  for (const [xShape, idShape, n, dtype] of cases) {
    const size = xShape.reduce((a, b) => a * b, 1);
    // magnitudes over several decades, so float32 rounding of partial sums would show
    const x = Array.from({ length: size }, () => (dtype === 'int32' ? Math.round(rng.normal() * 50) : rng.normal() * 10 ** Math.round(rng.normal() * 3)));
    const ids = Array.from({ length: idShape.reduce((a, b) => a * b, 1) }, () => Math.floor(rng.uniform() * (n + 2)) - 1);
    const ours = segmentSum(x, xShape, ids, n, dtype);
    const theirs = withKernel(stock!, () => segmentSum(x, xShape, ids, n, dtype));
    assert.equal(Array.from(ours), Array.from(theirs), `x [${xShape}] ids [${idShape}] ${n} segments ${dtype}`);
  }
});

test('gather gradient of a cross-entropy-sized flat gather: same gradient, memory bounded by its output', async () => {
  // The shape of the cross-entropy's flat gather (rows x vocabulary segments), kept small
  // enough for the stock kernel to finish in a second.
  const rows = 64;
  const vocab = 200;
  const rng = new Rng(5);
  const logits = tf.tensor(Array.from({ length: rows * vocab }, () => rng.normal()), [rows * vocab]);
  const idx = tf.tensor(Array.from({ length: rows }, (_, i) => i * vocab + Math.floor(rng.uniform() * vocab)), [rows], 'int32');
  const grad = () => tf.tidy(() => tf.grad((l: tf.Tensor) => tf.sum(tf.gather(l, idx)))(logits).dataSync() as Float32Array);
  let ours: Float32Array | undefined;
  // tf.profile's peakBytes counts every live tensor of the process: measure above the baseline
  const baseline = tf.memory().numBytes;
  const profile = await tf.profile(() => {
    ours = grad();
  });
  const outputBytes = rows * vocab * 4;
  assert.ok(profile.peakBytes - baseline <= 8 * outputBytes, `peak ${profile.peakBytes - baseline} bytes for an output of ${outputBytes}`);
  const theirs = withKernel(stock!, grad);
  assert.equal(Array.from(ours!), Array.from(theirs));
  tf.dispose([logits, idx]);
});

test.run();
