/**
 * `Cumsum` for wasm with negative axes normalised. The stock 4.22.0 kernel builds its
 * axis permutation from the raw attribute, so `tf.cumsum(x, -1)` reads out of bounds
 * ("memory access out of bounds", measured; the cpu kernel returns a wrong shape, and
 * eagerOps passes non-negative axes anyway). This wraps the stock kernel (kept with its
 * setup) with `axis + rank` for negative axes, so a stray negative axis is right on wasm.
 */
import { tf } from '../core/tf.js';
import { overrideWasmKernel, type WasmBackend } from './wasm-backend.js';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

let stock: tf.KernelConfig | undefined;

function cumsum(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs['x'] as tf.TensorInfo;
  const attrs = args.attrs as { axis: number; exclusive: boolean; reverse: boolean };
  const axis = attrs.axis < 0 ? attrs.axis + x.shape.length : attrs.axis;
  return stock!.kernelFunc({ ...args, attrs: { ...attrs, axis } } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
}

export function registerCumsumFix(initialised: WasmBackend | undefined): void {
  if (stock !== undefined) return;
  stock = overrideWasmKernel(tf.Cumsum, cumsum as unknown as tf.KernelFunc, initialised);
}
