/**
 * Linear products with 16-bit weights (bfloat16 / float16) in native memory, outside the 4 GB
 * wasm heap (native/src/w16.h): `PolyglotW16MatMul` (x · W, the weight widened to float32 in
 * registers, float32 accumulation) and `PolyglotW16MatMulT` (dY · Wᵀ, the input gradient).
 * Without the addon the weight is widened once to a float32 tensor (same values; the
 * products then differ only in summation order) and multiplied by tfjs.
 */
import { tf } from '../core/tf.js';
import { nativeAddon, type NativeWeight } from './native.js';
import { NativeLinearKernels } from './native-linear.js';
import { w16ToKernel, type W16Quantized } from './w16-weights.js';

const kernels = new NativeLinearKernels('PolyglotW16MatMul', 'PolyglotW16MatMulT');

/** Bytes of 16-bit weights the addon holds in native memory. */
export function nativeW16Bytes(): number {
  const addon = nativeAddon();
  return addon === undefined ? 0 : addon.w16Bytes();
}

/** Whether 16-bit weights made now go to native memory (addon loaded, wasm backend active). */
export function nativeW16Available(): boolean {
  return nativeAddon() !== undefined && tf.getBackend() === 'wasm';
}

/** One linear layer's 16-bit weight: `apply(x)` = x · W. */
export class W16Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly dtype: W16Quantized['dtype'];
  private id = 0;
  private handle?: NativeWeight;
  private fallback?: tf.Tensor2D;
  private graphCopy?: tf.Tensor2D;

  constructor(w: W16Quantized) {
    this.inFeatures = w.inFeatures;
    this.outFeatures = w.outFeatures;
    this.dtype = w.dtype;
    const addon = nativeAddon();
    if (addon !== undefined && tf.getBackend() === 'wasm') {
      const handle = addon.w16Weight(w.bits, w.inFeatures, w.outFeatures, w.dtype === 'bfloat16' ? 0 : 1);
      this.handle = handle;
      this.id = kernels.add(this, {
        k: w.inFeatures,
        n: w.outFeatures,
        run: (heap, x, out, m, transposed) => (transposed ? addon.w16MatmulT(heap, handle, x, out, m) : addon.w16Matmul(heap, handle, x, out, m)),
        gather: (heap, ids, count, out, multiplier) => addon.w16GatherRows(heap, handle, ids, count, out, multiplier),
      });
    } else {
      this.fallback = tf.tensor2d(w16ToKernel(w), [w.inFeatures, w.outFeatures]);
    }
  }

  /** The addon's handle of the weight (native-decode-block.ts passes it to whole-block kernels); undefined without the addon. */
  get nativeHandle(): NativeWeight | undefined {
    return this.handle;
  }

  /** True when the product runs on the 16-bit weights (native), false on a float32 copy. */
  get native(): boolean {
    return this.fallback === undefined;
  }

  /** The weight as stored: bits [out, in]. */
  read(): W16Quantized {
    if (this.handle === undefined) throw new Error('W16Linear: the weight is not in native memory');
    const bits = new Uint16Array(this.inFeatures * this.outFeatures);
    nativeAddon()!.w16Read(this.handle, bits);
    return { bits, dtype: this.dtype, inFeatures: this.inFeatures, outFeatures: this.outFeatures };
  }

  /** The weight widened to float32 [in, out] for graph export (kept until `dispose`). */
  graphWeight(): tf.Tensor2D {
    if (this.fallback !== undefined) return this.fallback;
    this.graphCopy ??= tf.tensor2d(w16ToKernel(this.read()), [this.inFeatures, this.outFeatures]);
    return this.graphCopy;
  }

  /** Rows of the stored weight [out, in] (widened exactly) for `ids` [...] int32, times `multiplier` (native path only). */
  gatherRows(ids: tf.Tensor, multiplier: number): tf.Tensor {
    if (this.handle === undefined) throw new Error('W16Linear: the weight is not in native memory');
    return kernels.gatherRows(ids, this.id, multiplier);
  }

  apply(x: tf.Tensor): tf.Tensor {
    if (x.shape[x.shape.length - 1] !== this.inFeatures) {
      throw new Error(`W16Linear: expected input [..., ${this.inFeatures}], found [${x.shape}]`);
    }
    if (this.fallback !== undefined) {
      return tf.tidy(() => tf.reshape(tf.matMul(tf.reshape(x, [-1, this.inFeatures]), this.fallback!), [...x.shape.slice(0, -1), this.outFeatures]));
    }
    const input = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    const y = kernels.product(input, this.id);
    if (input !== x) input.dispose();
    return y;
  }

  dispose(): void {
    kernels.remove(this, this.id);
    this.handle = undefined;
    this.fallback?.dispose();
    this.graphCopy?.dispose();
  }
}
