/**
 * Linear products with int8 weights in native memory (outside the 4 GB wasm heap), as wasm
 * kernels: `PolyglotInt8MatMul` (x [..., in] float32 on the heap times the registered
 * weight, dequantised in registers by the addon, native/src/q8.h) and
 * `PolyglotInt8MatMulT` (dY · Wᵀ, the input gradient: a frozen int8 linear is
 * differentiable w.r.t. its input through `tf.customGrad`, QLoRA-style; the weight gets no
 * gradient). Without the addon the weight is dequantised once to a float32 tensor and
 * multiplied as usual (gradients then come from tfjs' matMul).
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, heapF32 } from './wasm-backend.js';
import { NativeLinearKernels } from './native-linear.js';
import { nativeAddon, type NativeWeight } from './native.js';
import { dequantizeInt8, type Int8Quantized } from './int8-weights.js';
import { int8ValuedTensors } from '../ops/graph.js';

const kernels = new NativeLinearKernels('PolyglotInt8MatMul', 'PolyglotInt8MatMulT');

/** Bytes of int8 weights the addon holds in native memory. */
export function nativeInt8Bytes(): number {
  const addon = nativeAddon();
  return addon === undefined ? 0 : addon.q8Bytes();
}

/**
 * A float32 tensor's values without a copy where possible (wasm: a view of the heap, valid
 * until the next tensor allocation), so quantizing a 1 GB table does not add 1 GB of RSS.
 */
export function float32View(t: tf.Tensor): Float32Array {
  if (tf.getBackend() === 'wasm' && t.dtype === 'float32') return heapF32(asWasmBackend(tf.backend()), t);
  return t.dataSync() as Float32Array;
}

/** Whether int8 weights made now go to native memory (addon loaded, wasm backend active). */
export function nativeInt8Available(): boolean {
  return nativeAddon() !== undefined && tf.getBackend() === 'wasm';
}

/** One linear layer's int8 weight: `apply(x)` = x · W with W dequantised on the fly. */
export class Int8Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  private id = 0;
  private handle?: NativeWeight;
  private fallback?: tf.Tensor2D;
  /** Without the addon: the int8 values, kept for graph export. */
  private host?: Int8Quantized;
  private graphCopy?: { q: tf.Tensor2D; scale: tf.Tensor1D };

  constructor(w: Int8Quantized) {
    this.inFeatures = w.inFeatures;
    this.outFeatures = w.outFeatures;
    const addon = nativeAddon();
    if (addon !== undefined && tf.getBackend() === 'wasm') {
      const handle = addon.q8Weight(w.q, w.scale, w.inFeatures, w.outFeatures);
      this.handle = handle;
      this.id = kernels.add(this, {
        k: w.inFeatures,
        n: w.outFeatures,
        run: (heap, x, out, m, transposed, bias) => (transposed ? addon.q8MatmulT(heap, handle, x, out, m) : addon.q8Matmul(heap, handle, x, out, m, bias)),
        fusedBias: true,
      });
    } else {
      this.fallback = tf.tensor2d(dequantizeInt8(w), [w.inFeatures, w.outFeatures]);
      this.host = w;
    }
  }

  /** The addon's handle of the weight (native-decode-block.ts passes it to whole-block kernels); undefined without the addon. */
  get nativeHandle(): NativeWeight | undefined {
    return this.handle;
  }

  /** True when the product runs on the int8 weights (native), false on a float32 copy. */
  get native(): boolean {
    return this.fallback === undefined;
  }

  /** The weight as stored: q [out, in] and one scale per output channel. */
  read(): Int8Quantized {
    if (this.handle === undefined) throw new Error('Int8Linear: the weight is not in native memory');
    const q = new Int8Array(this.outFeatures * this.inFeatures);
    const scale = new Float32Array(this.outFeatures);
    nativeAddon()!.q8Read(this.handle, q, scale);
    return { q, scale, inFeatures: this.inFeatures, outFeatures: this.outFeatures };
  }

  /**
   * The weight for graph export: q [in, out] as float32 integer values and scale [out], so a
   * graph computes (x · q) * scale, the product the native kernel forms (kept until `dispose`).
   */
  graphWeights(): { q: tf.Tensor2D; scale: tf.Tensor1D } {
    if (this.graphCopy === undefined) {
      const w = this.host ?? this.read();
      const k = w.inFeatures;
      const n = w.outFeatures;
      const q = new Float32Array(k * n);
      for (let j = 0; j < n; j++) for (let i = 0; i < k; i++) q[i * n + j] = w.q[j * k + i];
      this.graphCopy = { q: tf.tensor2d(q, [k, n]), scale: tf.tensor1d(w.scale) };
      int8ValuedTensors.add(this.graphCopy.q);
    }
    return this.graphCopy;
  }

  /**
   * x · W, plus `bias` [out] when given: natively the bias is added by the product's kernel
   * (one kernel call instead of two in decoding; the same float32 numbers as a separate add).
   */
  apply(x: tf.Tensor, bias?: tf.Tensor): tf.Tensor {
    if (x.shape[x.shape.length - 1] !== this.inFeatures) {
      throw new Error(`Int8Linear: expected input [..., ${this.inFeatures}], found [${x.shape}]`);
    }
    if (bias !== undefined && (bias.rank !== 1 || bias.shape[0] !== this.outFeatures || bias.dtype !== 'float32')) {
      throw new Error(`Int8Linear: expected a float32 bias [${this.outFeatures}], found ${bias.dtype} [${bias.shape}]`);
    }
    if (this.fallback !== undefined) {
      return tf.tidy(() => {
        const y = tf.reshape(tf.matMul(tf.reshape(x, [-1, this.inFeatures]), this.fallback!), [...x.shape.slice(0, -1), this.outFeatures]);
        return bias === undefined ? y : tf.add(y, bias);
      });
    }
    const input = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    const y = bias === undefined ? kernels.product(input, this.id) : kernels.productWithBias(input, bias, this.id);
    if (input !== x) input.dispose();
    return y;
  }

  dispose(): void {
    kernels.remove(this, this.id);
    this.handle = undefined;
    this.fallback?.dispose();
    if (this.graphCopy !== undefined) tf.dispose([this.graphCopy.q, this.graphCopy.scale]);
  }
}
