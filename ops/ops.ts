/**
 * The small tensor-ops vocabulary every model computation is written against.
 *
 * Two implementations exist:
 *  - `eagerOps` (ops/eager.ts): plain tfjs calls, used for inference and training
 *    (gradients flow because these are ordinary tfjs ops);
 *  - the GraphDef builder (ops/graph.ts): records the same calls as TensorFlow
 *    GraphDef nodes, so an exported graph model cannot drift from the eager model.
 *
 * Rules for code written against `Ops<T>`:
 *  - never touch `tf.*` directly inside model math; go through `o`;
 *  - shapes come from `o.shape(x)`: a dimension is a number when statically known,
 *    or a scalar int32 `T` when dynamic (always a number in eager mode);
 *  - parameters enter through `o.weight(hfName, tensor)` (eager: the tensor itself;
 *    graph: a Const node named after the HF parameter);
 *  - anything data-dependent that needs host reads (e.g. sparse expert dispatch)
 *    branches on `o.kind` and provides a graph-friendly path too.
 */
export type DType = 'float32' | 'int32' | 'bool';

/** A dimension: static (number) or dynamic (scalar int32 tensor / node). */
export type Dim<T> = number | T;

export interface TopK<T> {
  values: T;
  indices: T;
}

export interface Ops<T> {
  readonly kind: 'eager' | 'graph';

  // ---- sources ----
  /** A trained parameter, named by its Hugging Face state-dict name. */
  weight(name: string, value: import('@tensorflow/tfjs').Tensor): T;
  scalar(value: number, dtype?: DType): T;
  constant(values: ArrayLike<number>, shape: number[], dtype?: DType): T;
  /** [start, start+1, ..., end-1] as int32. */
  range(start: Dim<T>, end: Dim<T>): T;

  // ---- shape ----
  shape(x: T): Dim<T>[];
  rank(x: T): number;
  dtype(x: T): DType;
  reshape(x: T, shape: Dim<T>[]): T;
  transpose(x: T, perm: number[]): T;
  expandDims(x: T, axis: number): T;
  squeeze(x: T, axes: number[]): T;
  concat(xs: T[], axis: number): T;
  /** Like tf.slice; a size of -1 means "to the end". */
  slice(x: T, begin: Dim<T>[], size: Dim<T>[]): T;
  gather(x: T, indices: T, axis?: number): T;
  tile(x: T, reps: Dim<T>[]): T;
  /** Arithmetic on dimensions (numbers stay numbers). */
  dimMul(a: Dim<T>, b: Dim<T>): Dim<T>;
  dimAdd(a: Dim<T>, b: Dim<T>): Dim<T>;

  // ---- elementwise ----
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  div(a: T, b: T): T;
  maximum(a: T, b: T): T;
  minimum(a: T, b: T): T;
  pow(a: T, b: T): T;
  neg(x: T): T;
  abs(x: T): T;
  exp(x: T): T;
  log(x: T): T;
  sqrt(x: T): T;
  rsqrt(x: T): T;
  square(x: T): T;
  tanh(x: T): T;
  erf(x: T): T;
  relu(x: T): T;
  sigmoid(x: T): T;
  sin(x: T): T;
  cos(x: T): T;
  floor(x: T): T;
  ceil(x: T): T;
  cast(x: T, dtype: DType): T;

  // ---- comparisons / selection ----
  equal(a: T, b: T): T;
  notEqual(a: T, b: T): T;
  less(a: T, b: T): T;
  lessEqual(a: T, b: T): T;
  greater(a: T, b: T): T;
  greaterEqual(a: T, b: T): T;
  logicalAnd(a: T, b: T): T;
  logicalOr(a: T, b: T): T;
  logicalNot(x: T): T;
  where(cond: T, a: T, b: T): T;

  // ---- reductions ----
  sum(x: T, axis: number | number[], keepDims?: boolean): T;
  mean(x: T, axis: number | number[], keepDims?: boolean): T;
  max(x: T, axis: number | number[], keepDims?: boolean): T;
  min(x: T, axis: number | number[], keepDims?: boolean): T;
  argMax(x: T, axis: number): T;
  /** Inclusive (or exclusive) cumulative sum along `axis` (a non-negative axis). */
  cumsum(x: T, axis: number, exclusive?: boolean): T;
  topk(x: T, k: number): TopK<T>;

  // ---- neural-net primitives ----
  /** Batched matrix product; a rank-3 x rank-2 product is computed as a 2-D one. */
  matMul(a: T, b: T, transposeA?: boolean, transposeB?: boolean): T;
  softmax(x: T): T;
  logSoftmax(x: T): T;
  /** int32 indices -> float32 one-hot of `depth` along a new last axis. */
  oneHot(indices: T, depth: number): T;
}
