/** nn.Linear: y = x W + b with W stored [in, out] (HF's [out, in] transposed at load/export). */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import type { Int8Quantized } from '../backend/int8-weights.js';
import { Int8Linear, float32View } from '../backend/native-int8.js';
import type { W16Dtype, W16Quantized } from '../backend/w16-weights.js';
import { w16FromKernel } from '../backend/w16-weights.js';
import { W16Linear } from '../backend/native-w16.js';
import { PolyglotLayer } from './base.js';

export interface LinearConfig {
  inFeatures: number;
  outFeatures: number;
  /** HF module name, e.g. "model.layers.0.self_attn.q_proj" (parameters: <name>.weight, <name>.bias). */
  hfName: string;
  bias?: boolean;
}

/**
 * An extra path added to a Linear's output, computed from the same input (LoRA adapters,
 * train/lora). Kept outside the layer's parameters: the base model's HF state dict,
 * loading and export do not see it.
 */
export interface LinearAdapter {
  delta<T>(o: Ops<T>, x: T): T;
}

/**
 * Eager replacements of x·W keyed by a weight variable: the int8 output projection of a
 * tied embedding table (layers/weight-precision.ts), which stays float32 for the lookup.
 */
export const linearProducts = new WeakMap<tf.LayerVariable, (x: tf.Tensor) => tf.Tensor>();

/** The Linear owning a float32 kernel variable (`--weights int8` after loading replaces it). */
export const linearOfKernel = new WeakMap<tf.LayerVariable, Linear>();

/**
 * Supplies a Linear's weight as per-output-channel int8 (the loader with `--weights int8`, or a
 * `polyglot quantize` checkpoint) or as 16-bit bits (`--weights bfloat16|float16`) instead of a
 * float32 kernel: called once per Linear at construction with its weight's HF name; undefined
 * keeps float32.
 */
export type Int8WeightProvider = (weightName: string, inFeatures: number, outFeatures: number) => Int8Quantized | W16Quantized | undefined;

let activeInt8: Int8WeightProvider | undefined;

/** Runs `build` (which constructs layers) with `provider` choosing int8 weights. */
export function withInt8Weights<R>(provider: Int8WeightProvider, build: () => R): R {
  const previous = activeInt8;
  activeInt8 = provider;
  try {
    return build();
  } finally {
    activeInt8 = previous;
  }
}

export class Linear extends PolyglotLayer {
  readonly cfg: Required<LinearConfig>;
  readonly bias?: tf.LayerVariable;
  /** Set by LoRA: its output is added to this layer's (after the bias). */
  adapter?: LinearAdapter;
  private floatKernel?: tf.LayerVariable;
  /** int8 weight in native memory; then there is no float32 kernel at all (not a parameter). */
  private int8Weight?: Int8Linear;
  /** 16-bit weight in native memory (`--weights bfloat16|float16`); likewise no float32 kernel. */
  private w16Weight?: W16Linear;

  constructor(cfg: LinearConfig) {
    super({});
    this.cfg = { bias: true, ...cfg };
    const q = activeInt8?.(this.weightName, cfg.inFeatures, cfg.outFeatures);
    if (q !== undefined && 'bits' in q) this.w16Weight = new W16Linear(q);
    else if (q !== undefined) this.int8Weight = new Int8Linear(q);
    else {
      this.floatKernel = this.addHfWeight(this.weightName, [cfg.inFeatures, cfg.outFeatures], true);
      linearOfKernel.set(this.floatKernel, this);
    }
    if (this.cfg.bias) this.bias = this.addHfWeight(`${cfg.hfName}.bias`, [cfg.outFeatures], false);
  }

  get weightName(): string {
    return `${this.cfg.hfName}.weight`;
  }

  /** The float32 kernel [in, out]; absent when the weight is int8 (`int8`). */
  get kernel(): tf.LayerVariable {
    if (this.floatKernel === undefined) {
      throw new PolyglotError(`${this.weightName}: the weight is ${this.w16Weight?.dtype ?? 'int8'} in native memory (no float32 kernel); load with --weights float32`);
    }
    return this.floatKernel;
  }

  /** The int8 weight, when this layer has one instead of a float32 kernel. */
  get int8(): Int8Linear | undefined {
    return this.int8Weight;
  }

  /** The 16-bit weight, when this layer has one instead of a float32 kernel. */
  get w16(): W16Linear | undefined {
    return this.w16Weight;
  }

  /** The frozen (int8 or 16-bit, native) weight replacing the float32 kernel, if any: LoRA and merging ask this. */
  get frozenWeight(): Int8Linear | W16Linear | undefined {
    return this.int8Weight ?? this.w16Weight;
  }

  /** Replaces the float32 kernel by its 16-bit rounding (like `toInt8`). No-op when not float32. */
  toW16(dtype: W16Dtype): boolean {
    if (this.floatKernel === undefined) return false;
    const v = this.floatKernel;
    this.w16Weight = new W16Linear(w16FromKernel(float32View(v.read()), this.cfg.inFeatures, this.cfg.outFeatures, dtype));
    this.floatKernel = undefined;
    this.dropHfWeight(v);
    return true;
  }

  /**
   * Replaces the float32 kernel by its int8 quantization (`quantize`: per output channel) and
   * frees the kernel; the layer no longer reports it as a parameter. No-op when already int8.
   */
  toInt8(quantize: (w: Float32Array, inFeatures: number, outFeatures: number) => Int8Quantized): boolean {
    if (this.floatKernel === undefined) return false;
    const v = this.floatKernel;
    this.int8Weight = new Int8Linear(quantize(float32View(v.read()), this.cfg.inFeatures, this.cfg.outFeatures));
    this.floatKernel = undefined;
    this.dropHfWeight(v);
    return true;
  }

  run<T>(o: Ops<T>, x: T): T {
    const eager = (o as unknown) === eagerOps;
    let y: T;
    if (this.int8Weight !== undefined && eager && this.bias) {
      // The bias is added by the int8 product's kernel (same numbers, one kernel call fewer).
      const base = this.int8Weight.apply(x as tf.Tensor, this.bias.read()) as T;
      return this.adapter ? o.add(base, this.adapter.delta(o, x)) : base;
    }
    if (this.int8Weight !== undefined) {
      if (eager) y = this.int8Weight.apply(x as tf.Tensor) as T;
      else {
        // Graph export: (x · q) * scale with q stored one byte a value (docs/QUANTIZATION.md "Export").
        const { q, scale } = this.int8Weight.graphWeights();
        y = o.mul(o.matMul(x, o.weight(this.weightName, q)), o.weight(`${this.weightName}_scale`, scale));
      }
    } else if (this.w16Weight !== undefined) {
      // Graph export: the weight widened to float32 (export --quantize float16 stores 2 bytes a value).
      y = eager ? (this.w16Weight.apply(x as tf.Tensor) as T) : o.matMul(x, o.weight(this.weightName, this.w16Weight.graphWeight()));
    } else {
      const product = eager ? linearProducts.get(this.kernel) : undefined;
      y = product !== undefined ? (product(x as tf.Tensor) as T) : o.matMul(x, o.weight(this.weightName, this.kernel.read()));
    }
    const base = this.bias ? o.add(y, o.weight(`${this.cfg.hfName}.bias`, this.bias.read())) : y;
    // LoRA composes with an int8 or 16-bit base: the adapter's low-rank path stays float32.
    return this.adapter ? o.add(base, this.adapter.delta(o, x)) : base;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => this.run(eagerOps, Array.isArray(inputs) ? inputs[0] : inputs));
  }

  override computeOutputShape(inputShape: tf.Shape): tf.Shape {
    return [...inputShape.slice(0, -1), this.cfg.outFeatures];
  }
}
