/**
 * Linear products with int8 weights in native memory (outside the 4 GB wasm heap), as a
 * wasm kernel `PolyglotInt8MatMul`: x [..., in] (float32, on the heap) times the
 * registered weight, dequantised in registers by the addon (native/src/q8.h). Without the
 * addon the weight is dequantised once to a float32 tensor and multiplied as usual.
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, offsetOf } from './wasm-backend.js';
import { nativeAddon, type NativeWeight } from './native.js';
import { dequantizeInt8, type Int8Quantized } from './int8-weights.js';

const KERNEL = 'PolyglotInt8MatMul';

const weights = new Map<number, { native: NativeWeight; k: number; n: number }>();
let nextId = 1;
let registered = false;

function register(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: KERNEL,
    backendName: 'wasm',
    kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
      const backend = asWasmBackend(args.backend);
      const x = args.inputs['x'] as tf.TensorInfo;
      const w = weights.get((args.attrs as { weight: number }).weight);
      if (w === undefined) throw new Error(`${KERNEL}: weight was disposed`);
      const m = x.shape.reduce((a, b) => a * b, 1) / w.k;
      const out = backend.makeOutput([...x.shape.slice(0, -1), w.n], 'float32');
      nativeAddon()!.q8Matmul(backend.wasm.HEAPU8.buffer as ArrayBuffer, w.native, offsetOf(backend, x) / 4, offsetOf(backend, out) / 4, m);
      return out;
    }) as unknown as tf.KernelFunc,
  });
}

/** Bytes of int8 weights the addon holds in native memory. */
export function nativeInt8Bytes(): number {
  const addon = nativeAddon();
  return addon === undefined ? 0 : addon.q8Bytes();
}

/** One linear layer's int8 weight: `apply(x)` = x · W with W dequantised on the fly. */
export class Int8Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private id = 0;
  private fallback?: tf.Tensor2D;

  constructor(w: Int8Quantized) {
    this.inFeatures = w.inFeatures;
    this.outFeatures = w.outFeatures;
    const addon = nativeAddon();
    if (addon !== undefined && tf.getBackend() === 'wasm') {
      register();
      this.id = nextId++;
      weights.set(this.id, { native: addon.q8Weight(w.q, w.scale, w.inFeatures, w.outFeatures), k: w.inFeatures, n: w.outFeatures });
    } else {
      this.fallback = tf.tensor2d(dequantizeInt8(w), [w.inFeatures, w.outFeatures]);
    }
  }

  /** True when the product runs on the int8 weights (native), false on a float32 copy. */
  get native(): boolean {
    return this.fallback === undefined;
  }

  apply(x: tf.Tensor): tf.Tensor {
    if (x.shape[x.shape.length - 1] !== this.inFeatures) {
      throw new Error(`Int8Linear: expected input [..., ${this.inFeatures}], found [${x.shape}]`);
    }
    if (this.fallback !== undefined) {
      return tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(x, [-1, this.inFeatures]), this.fallback!), [...x.shape.slice(0, -1), this.outFeatures]));
    }
    const input = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    const y = tf.engine().runKernel(KERNEL, { x: input }, { weight: this.id } as unknown as tf.NamedAttrMap) as tf.Tensor;
    if (input !== x) input.dispose();
    return y;
  }

  dispose(): void {
    // The native memory is freed when the addon's handle is garbage collected.
    weights.delete(this.id);
    this.fallback?.dispose();
  }
}
