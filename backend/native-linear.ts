/**
 * What the native linear kernels with weights in native memory share (int8: native-int8.ts,
 * 16-bit: native-w16.ts): a pair of wasm-backend kernels, `<forward>` (x [..., in] float32 on
 * the heap times the weight looked up by an id attribute) and `<backward>` (dY · Wᵀ, the input
 * gradient through `tf.customGrad`: a frozen weight is differentiable w.r.t. its input,
 * QLoRA-style; the weight gets no gradient).
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, offsetOf } from './wasm-backend.js';

/** One weight as the kernels see it: x [m, k] -> [m, n]; `transposed`: dY [m, n] -> dX [m, k]. */
export interface NativeLinearWeight {
  k: number;
  n: number;
  /**
   * Runs the product on the heap (offsets count floats). `biasOffset` (forward only, -1 for
   * none) is given only to weights with `fusedBias`, whose kernel adds a float32 bias [n].
   */
  run(heap: ArrayBuffer, xOffset: number, outOffset: number, m: number, transposed: boolean, biasOffset: number): void;
  /** The forward kernel can add the bias itself (int8: one pass over the output fewer). */
  fusedBias?: boolean;
  /**
   * Rows of the weight [n, k] as float32, times `multiplier`: the embedding lookup of a tied
   * table kept only in native memory (idsOffset counts int32s, outOffset floats).
   */
  gather?(heap: ArrayBuffer, idsOffset: number, count: number, outOffset: number, multiplier: number): void;
}

export class NativeLinearKernels {
  private readonly weights = new Map<number, NativeLinearWeight>();
  private nextId = 1;
  private registered = false;
  // A layer dropped without dispose releases its native weight when collected.
  private readonly collected = new FinalizationRegistry<number>((id) => this.weights.delete(id));

  constructor(
    readonly forward: string,
    readonly backward: string,
  ) {}

  /** Registers `w` for `owner` (its weight is released when `owner` is collected or `remove`d); returns the id. */
  add(owner: object, w: NativeLinearWeight): number {
    this.register();
    const id = this.nextId++;
    this.weights.set(id, w);
    this.collected.register(owner, id, owner);
    return id;
  }

  remove(owner: object, id: number): void {
    this.weights.delete(id);
    this.collected.unregister(owner);
  }

  /** x · W with dL/dx = dy · Wᵀ from the transposed kernel (no gradient for W). */
  product(x: tf.Tensor, id: number): tf.Tensor {
    const attrs = { weight: id } as unknown as tf.NamedAttrMap;
    const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
      save([]);
      return {
        value: tf.engine().runKernel(this.forward, { x: input }, attrs) as tf.Tensor,
        gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(this.backward, { x: dy.dtype === 'float32' ? dy : tf.cast(dy, 'float32') }, attrs) as tf.Tensor,
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return f(x);
  }

  /** x · W + b in one kernel (weights with `fusedBias`): dL/dx from the transposed kernel, dL/db = dy summed over rows. */
  productWithBias(x: tf.Tensor, bias: tf.Tensor, id: number): tf.Tensor {
    const attrs = { weight: id } as unknown as tf.NamedAttrMap;
    const n = bias.shape[0]!;
    const f = tf.customGrad(((input: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
      save([]);
      return {
        value: tf.engine().runKernel(this.forward, { x: input, bias: b }, attrs) as tf.Tensor,
        gradFunc: (dy: tf.Tensor) => {
          const d = dy.dtype === 'float32' ? dy : tf.cast(dy, 'float32');
          return [tf.engine().runKernel(this.backward, { x: d }, attrs) as tf.Tensor, tf.sum(tf.reshape(d, [-1, n]), 0)];
        },
      };
    }) as unknown as Parameters<typeof tf.customGrad>[0]);
    return f(x, bias);
  }

  /** Rows `ids` [...] int32 of weight `id` [n, k] -> [..., k] float32, times `multiplier` (no gradient). */
  gatherRows(ids: tf.Tensor, id: number, multiplier: number): tf.Tensor {
    this.registerGather();
    return tf.engine().runKernel(`${this.forward}Gather`, { ids }, { weight: id, multiplier } as unknown as tf.NamedAttrMap) as tf.Tensor;
  }

  private gatherRegistered = false;
  private registerGather(): void {
    if (this.gatherRegistered) return;
    this.gatherRegistered = true;
    const kernelName = `${this.forward}Gather`;
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
        const backend = asWasmBackend(args.backend);
        const ids = args.inputs['ids'] as tf.TensorInfo;
        const { weight, multiplier } = args.attrs as unknown as { weight: number; multiplier: number };
        const w = this.weights.get(weight);
        if (w?.gather === undefined) throw new Error(`${kernelName}: weight was disposed or has no rows to gather`);
        if (ids.dtype !== 'int32') throw new Error(`${kernelName}: expected int32 ids, found ${ids.dtype}`);
        const count = ids.shape.reduce((a, b) => a * b, 1);
        const out = backend.makeOutput([...ids.shape, w.k], 'float32');
        w.gather(backend.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(backend, ids) / 4, count, offsetOf(backend, out) / 4, multiplier);
        return out;
      }) as unknown as tf.KernelFunc,
    });
  }

  /** True when weight `id` adds its bias in the forward kernel. */
  fusesBias(id: number): boolean {
    return this.weights.get(id)?.fusedBias === true;
  }

  private register(): void {
    if (this.registered) return;
    this.registered = true;
    for (const [kernelName, transposed] of [
      [this.forward, false],
      [this.backward, true],
    ] as const) {
      tf.registerKernel({
        kernelName,
        backendName: 'wasm',
        kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
          const backend = asWasmBackend(args.backend);
          const x = args.inputs['x'] as tf.TensorInfo;
          const bias = args.inputs['bias'] as tf.TensorInfo | undefined;
          const w = this.weights.get((args.attrs as { weight: number }).weight);
          if (w === undefined) throw new Error(`${kernelName}: weight was disposed`);
          const [from, to] = transposed ? [w.n, w.k] : [w.k, w.n];
          const m = x.shape.reduce((a, b) => a * b, 1) / from;
          // The output first: allocation may move the heap (docs/BACKENDS.md).
          const out = backend.makeOutput([...x.shape.slice(0, -1), to], 'float32');
          if (bias !== undefined && (transposed || w.fusedBias !== true)) throw new Error(`${kernelName}: this weight's kernel takes no bias`);
          const biasOffset = bias === undefined ? -1 : offsetOf(backend, bias) / 4;
          w.run(backend.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(backend, x) / 4, offsetOf(backend, out) / 4, m, transposed, biasOffset);
          return out;
        }) as unknown as tf.KernelFunc,
      });
    }
  }
}
