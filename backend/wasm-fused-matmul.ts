/**
 * `_FusedMatMul` for wasm when a bias or PReLU weights meet the stock kernel's slow path.
 *
 * tfjs-backend-wasm 4.22.0 computes `fused.matMul({a, b, bias})` correctly only on its
 * XNNPACK path (no transposes, batch 1 on both sides). On its C++ loop (any transpose,
 * or a batch) the bias and activation land on the wrong elements: errors as large as
 * the bias itself (test/kernels-wasm.test.ts). The product without a bias is right on
 * both paths. So on that path this override computes the product with the registered
 * BatchMatMul (our faster override), then adds the bias and applies the activation with
 * the backend's own Add and activation kernels. The native kernels (native-matmul.ts)
 * replace this one when the addon loads and fall back to it for what they do not handle.
 */
import { tf } from '../core/tf.js';
import { overrideWasmKernel, type WasmBackend } from './wasm-backend.js';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
type Attrs = { transposeA: boolean; transposeB: boolean; activation?: string; leakyreluAlpha?: number };

let stock: tf.KernelConfig | undefined;

/** tfjs' fused activation names and the wasm kernels that compute them. */
const ACTIVATION_KERNELS: Record<string, string> = {
  relu: tf.Relu,
  relu6: tf.Relu6,
  elu: tf.Elu,
  sigmoid: tf.Sigmoid,
  leakyrelu: tf.LeakyRelu,
  prelu: tf.Prelu,
};

function call(kernelName: string, inputs: tf.NamedTensorInfoMap, backend: unknown, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
  const kernel = tf.getKernel(kernelName, 'wasm');
  if (kernel === undefined) throw new Error(`wasm ${kernelName} kernel is not registered`);
  return kernel.kernelFunc({ inputs, backend: backend as tf.KernelBackend, attrs }) as tf.TensorInfo;
}

function batchOf(t: tf.TensorInfo): number {
  return t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
}

function fusedMatMul(args: KernelArgs): tf.TensorInfo {
  const attrs = args.attrs as Attrs;
  const a = args.inputs['a'] as tf.TensorInfo;
  const b = args.inputs['b'] as tf.TensorInfo;
  const bias = args.inputs['bias'] as tf.TensorInfo | undefined;
  const prelu = args.inputs['preluActivationWeights'] as tf.TensorInfo | undefined;
  const activation = attrs.activation ?? 'linear';
  const stockIsRight = (bias == null && prelu == null) || (!attrs.transposeA && !attrs.transposeB && batchOf(a) === 1 && batchOf(b) === 1);
  if (stockIsRight || (activation !== 'linear' && ACTIVATION_KERNELS[activation] === undefined)) {
    return stock!.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  }
  const backend = args.backend as { disposeData(dataId: object): void };
  let out = call(tf.BatchMatMul, { a, b }, backend, { transposeA: attrs.transposeA, transposeB: attrs.transposeB });
  const replace = (next: tf.TensorInfo): void => {
    backend.disposeData(out.dataId);
    out = next;
  };
  if (bias != null) replace(call(tf.Add, { a: out, b: bias }, backend));
  if (activation === 'prelu') replace(call(tf.Prelu, { x: out, alpha: prelu! }, backend));
  else if (activation === 'leakyrelu') replace(call(tf.LeakyRelu, { x: out }, backend, { alpha: attrs.leakyreluAlpha ?? 0.2 }));
  else if (activation !== 'linear') replace(call(ACTIVATION_KERNELS[activation], { x: out }, backend));
  return out;
}

/** Registers the kernel above for wasm, keeping the stock one for what it computes right. */
export function registerFusedMatMulFix(initialised: WasmBackend | undefined): void {
  if (stock !== undefined) return;
  stock = overrideWasmKernel(tf._FusedMatMul, fusedMatMul as unknown as tf.KernelFunc, initialised);
}
