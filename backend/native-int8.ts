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
import { asWasmBackend, heapF32, offsetOf } from './wasm-backend.js';
import { nativeAddon, type NativeWeight } from './native.js';
import { dequantizeInt8, type Int8Quantized } from './int8-weights.js';
import { int8ValuedTensors } from '../ops/graph.js';

const FORWARD = 'PolyglotInt8MatMul';
const BACKWARD = 'PolyglotInt8MatMulT';

const weights = new Map<number, { native: NativeWeight; k: number; n: number }>();
let nextId = 1;
let registered = false;
// A Linear dropped without dispose (models free their variables, not their int8 layers)
// releases its native weight when collected.
const collected = new FinalizationRegistry<number>((id) => weights.delete(id));

function register(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, transposed] of [
    [FORWARD, false],
    [BACKWARD, true],
  ] as const) {
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
        const backend = asWasmBackend(args.backend);
        const x = args.inputs['x'] as tf.TensorInfo;
        const bias = args.inputs['bias'] as tf.TensorInfo | undefined;
        const w = weights.get((args.attrs as { weight: number }).weight);
        if (w === undefined) throw new Error(`${kernelName}: weight was disposed`);
        const [from, to] = transposed ? [w.n, w.k] : [w.k, w.n];
        const m = x.shape.reduce((a, b) => a * b, 1) / from;
        const out = backend.makeOutput([...x.shape.slice(0, -1), to], 'float32');
        const addon = nativeAddon()!;
        const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
        if (transposed) addon.q8MatmulT(heap, w.native, offsetOf(backend, x) / 4, offsetOf(backend, out) / 4, m);
        else addon.q8Matmul(heap, w.native, offsetOf(backend, x) / 4, offsetOf(backend, out) / 4, m, bias === undefined ? -1 : offsetOf(backend, bias) / 4);
        return out;
      }) as unknown as tf.KernelFunc,
    });
  }
}

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
  private fallback?: tf.Tensor2D;
  /** Without the addon: the int8 values, kept for graph export. */
  private host?: Int8Quantized;
  private graphCopy?: { q: tf.Tensor2D; scale: tf.Tensor1D };

  constructor(w: Int8Quantized) {
    this.inFeatures = w.inFeatures;
    this.outFeatures = w.outFeatures;
    const addon = nativeAddon();
    if (addon !== undefined && tf.getBackend() === 'wasm') {
      register();
      this.id = nextId++;
      weights.set(this.id, { native: addon.q8Weight(w.q, w.scale, w.inFeatures, w.outFeatures), k: w.inFeatures, n: w.outFeatures });
      collected.register(this, this.id, this);
    } else {
      this.fallback = tf.tensor2d(dequantizeInt8(w), [w.inFeatures, w.outFeatures]);
      this.host = w;
    }
  }

  /** True when the product runs on the int8 weights (native), false on a float32 copy. */
  get native(): boolean {
    return this.fallback === undefined;
  }

  /** The weight as stored: q [out, in] and one scale per output channel. */
  read(): Int8Quantized {
    const w = weights.get(this.id);
    if (w === undefined) throw new Error('Int8Linear: the weight is not in native memory');
    const q = new Int8Array(w.n * w.k);
    const scale = new Float32Array(w.n);
    nativeAddon()!.q8Read(w.native, q, scale);
    return { q, scale, inFeatures: w.k, outFeatures: w.n };
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
    const y = bias === undefined ? this.product(input) : this.productWithBias(input, bias);
    if (input !== x) input.dispose();
    return y;
  }

  /** x · W + b: dL/dx from the transposed int8 kernel, dL/db = dy summed over rows. */
  private productWithBias(x: tf.Tensor, bias: tf.Tensor): tf.Tensor {
    const attrs = { weight: this.id } as unknown as tf.NamedAttrMap;
    const n = this.outFeatures;
    const f = tf.customGrad(((input: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      save([]);
      return {
        value: tf.engine().runKernel(FORWARD, { x: input, bias: b }, attrs) as tf.Tensor,
        gradFunc: (dy: tf.Tensor) => {
          const d = dy.dtype === 'float32' ? dy : tf.cast(dy, 'float32');
          return [tf.engine().runKernel(BACKWARD, { x: d }, attrs) as tf.Tensor, tf.sum(tf.reshape(d, [-1, n]), 0)];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return f(x, bias);
  }

  /** x · W with dL/dx = dy · Wᵀ from the transposed int8 kernel (no gradient for W: it is frozen). */
  private product(x: tf.Tensor): tf.Tensor {
    const attrs = { weight: this.id } as unknown as tf.NamedAttrMap;
    const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
      save([]);
      return {
        value: tf.engine().runKernel(FORWARD, { x: input }, attrs) as tf.Tensor,
        gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(BACKWARD, { x: dy.dtype === 'float32' ? dy : tf.cast(dy, 'float32') }, attrs) as tf.Tensor,
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return f(x);
  }

  dispose(): void {
    weights.delete(this.id);
    collected.unregister(this);
    this.fallback?.dispose();
    if (this.graphCopy !== undefined) tf.dispose([this.graphCopy.q, this.graphCopy.scale]);
  }
}
