/**
 * `UnsortedSegmentSum` for the cpu backend. tfjs-backend-cpu 4.22.0 builds it as one
 * equal/cast/multiply/sum pass over the whole input per segment, keeping every intermediate
 * until the end: O(numSegments x size) time and memory. tfjs-core uses the kernel in the
 * gradient of `tf.gather`, where numSegments is the vocabulary (embedding gradient) or
 * rows x vocabulary (the flat gather of the cross-entropy), so one xglm-tiny training step
 * took seconds and grew the heap by hundreds of MB (docs/BACKENDS.md).
 *
 * This kernel is one scatter-add pass, O(size). It gives the stock kernel's numbers bit for
 * bit: the stock `sum` accumulates each output in a JS double in increasing input order and
 * rounds once to float32 (the zeros of the mask add nothing), which is what this does.
 * Ids outside [0, numSegments) are dropped, as in the stock kernel and TF.
 */
import { tf } from '../core/tf.js';

interface CpuBackend {
  data: { get(id: tf.DataId): { values: tf.backend_util.BackendValues } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: tf.backend_util.BackendValues): tf.TensorInfo;
}

function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as CpuBackend;
  const x = args.inputs['x'] as tf.TensorInfo;
  const ids = args.inputs['segmentIds'] as tf.TensorInfo;
  const numSegments = (args.attrs as { numSegments: number }).numSegments;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum (cpu): x must be float32 or int32, found ${x.dtype}`);
  for (let i = 0; i < ids.shape.length; i++) {
    if (ids.shape[i] !== x.shape[i]) throw new Error(`UnsortedSegmentSum (cpu): segmentIds shape [${ids.shape}] must be a prefix of x shape [${x.shape}]`);
  }
  const numIds = ids.shape.reduce((a, b) => a * b, 1);
  const innerShape = x.shape.slice(ids.shape.length);
  const inner = innerShape.reduce((a, b) => a * b, 1);
  const xV = backend.data.get(x.dataId).values as Float32Array | Int32Array;
  const idV = backend.data.get(ids.dataId).values as Int32Array | Float32Array;
  const acc = new Float64Array(numSegments * inner);
  for (let i = 0; i < numIds; i++) {
    const s = idV[i];
    if (!(s >= 0 && s < numSegments)) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) acc[dst + j] += xV[src + j];
  }
  const out = x.dtype === 'float32' ? Float32Array.from(acc) : Int32Array.from(acc);
  return backend.makeTensorInfo([numSegments, ...innerShape], x.dtype, out);
}

export const cpuUnsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'cpu',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};

let stock: tf.KernelConfig | undefined;

/** Replaces the stock cpu kernel (idempotent). Returns the stock one, for tests. */
export function registerCpuKernels(): tf.KernelConfig | undefined {
  const current = tf.getKernel(tf.UnsortedSegmentSum, 'cpu');
  if (current?.kernelFunc === cpuUnsortedSegmentSumConfig.kernelFunc) return stock;
  stock = current;
  if (current !== undefined) tf.unregisterKernel(tf.UnsortedSegmentSum, 'cpu');
  tf.registerKernel(cpuUnsortedSegmentSumConfig);
  return stock;
}
