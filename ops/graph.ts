/**
 * `GraphOps`: the `Ops` vocabulary recorded as TensorFlow GraphDef nodes (protobuf-JSON,
 * the form `tf.loadGraphModel` reads). Model code written against `Ops<T>` runs unchanged
 * with this implementation, so an exported graph cannot drift from the eager model.
 *
 * Only op names the tfjs graph executor maps are emitted (MatMul, BatchMatMulV2 - never
 * V3 -, AddV2, SelectV2, GatherV2, ...). Static shapes are tracked where known; a dynamic
 * dimension is a scalar int32 node (Shape + StridedSlice), created on demand.
 * Every Const node's value lives in the weights manifest under the node's name (the tfjs
 * loader looks Const values up there, scalars included).
 */
import type { Tensor } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { Dim, DType, Ops, TopK } from './ops.js';

/** One tensor in the graph: a node output (`name` or `name:i`) with its dtype and known dims. */
export interface GraphNode {
  /** The GraphDef input reference: `node` for output 0, `node:i` otherwise. */
  readonly ref: string;
  readonly dtype: DType;
  /** Per dimension: a number when static, a scalar int32 node when known symbolically, null when unknown. */
  readonly dims: (number | GraphNode | null)[];
}

/** A GraphDef attribute value in protobuf-JSON form. */
export type AttrValue =
  | { type: string }
  | { b: boolean }
  | { i: string }
  | { f: number }
  | { list: { i?: string[]; type?: string[] } }
  | { shape: { dim?: { size: string }[]; unknownRank?: boolean } }
  | { tensor: { dtype: string; tensorShape: { dim?: { size: string }[] } } };

export interface NodeDef {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, AttrValue>;
}

/** A Const node's value, destined for the weights manifest. */
export interface ConstValue {
  name: string;
  dtype: 'float32' | 'int32' | 'bool';
  shape: number[];
  /** The values, read when the weights are written (weights are not copied while recording). */
  read(): Float32Array | Int32Array | Uint8Array;
  /** Trained parameters (from `weight()`) may be quantized; literal constants never are. */
  isParameter: boolean;
  /** From `weight()` (a model tensor, the same in every graph of a model): may live in a shared weight group. */
  fromWeight: boolean;
  /** Integer values in [-128, 127] (an int8 weight): stored as one exact byte each whatever the quantize mode. */
  int8?: boolean;
}

/**
 * float32 tensors whose values are int8 weights (layers/linear.ts, `--weights int8`): their
 * Consts are written as uint8 with min -128, scale 1, which the stock loader decodes exactly.
 */
export const int8ValuedTensors = new WeakSet<Tensor>();

export interface SignatureEntry {
  name: string;
  dtype: DType;
  shape: (number | null)[];
}

/** The recorded graph, pruned to what the outputs need (placeholders always kept). */
export interface RecordedGraph {
  nodes: NodeDef[];
  consts: ConstValue[];
  inputs: SignatureEntry[];
  outputs: SignatureEntry[];
}

const TF_DTYPE: Record<DType, string> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL' };

const attr = {
  type: (d: DType): AttrValue => ({ type: TF_DTYPE[d] }),
  b: (v: boolean): AttrValue => ({ b: v }),
  i: (v: number): AttrValue => ({ i: String(v) }),
  ints: (v: number[]): AttrValue => ({ list: { i: v.map(String) } }),
  shape: (dims: (number | null)[]): AttrValue => ({ shape: { dim: dims.map((d) => ({ size: String(d ?? -1) })) } }),
};

function isNode(d: unknown): d is GraphNode {
  return typeof d === 'object' && d !== null && 'ref' in d;
}

function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new PolyglotError(`graph export: ${what}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Element type of a binary arithmetic result (tfjs upcasts mixed operands). */
function upcast(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'float32' || b === 'float32') return 'float32';
  return 'int32';
}

/** One graph model of an export: its folder, what it is for, and how to record it. */
export interface GraphSignature {
  folder: string;
  purpose: string;
  record: () => RecordedGraph;
}

/** How a model family exports as graph models (models/<name>/graphs.ts). */
export interface GraphExport<M> {
  signatures(model: M): GraphSignature[];
  /** Model-specific usage notes for the export's README. */
  notes(model: M): string[];
}

export interface GraphOpsOptions {
  /**
   * Which `weight()` names are trained parameters (quantizable). Default: every float32
   * weight. Exporters pass the model's HF parameter names so buffers such as the sinusoidal
   * position table stay exact.
   */
  isParameter?: (name: string) => boolean;
}

export class GraphOps implements Ops<GraphNode> {
  readonly kind = 'graph' as const;

  constructor(private readonly options: GraphOpsOptions = {}) {}

  private readonly nodeDefs: NodeDef[] = [];
  private readonly nodeNames = new Set<string>();
  private readonly consts = new Map<string, ConstValue>();
  /** Tied parameters: the same tensor (same data) used twice becomes one Const. */
  private readonly weightByData = new Map<object, GraphNode>();
  private readonly scalarCache = new Map<string, GraphNode>();
  private readonly shapeCache = new Map<string, GraphNode>();
  private readonly dimCache = new Map<string, GraphNode>();
  private readonly inputs: SignatureEntry[] = [];
  private readonly outputs: SignatureEntry[] = [];
  private counter = 0;

  // ------------------------------------------------------------------ graph plumbing

  private uniqueName(base: string): string {
    let name = base;
    while (this.nodeNames.has(name)) name = `${base}_${++this.counter}`;
    this.nodeNames.add(name);
    return name;
  }

  /** Adds a node; returns its outputs (dtype/dims per output). */
  private emit(
    op: string,
    inputs: GraphNode[],
    attrs: Record<string, AttrValue>,
    outs: { dtype: DType; dims: (number | GraphNode | null)[] }[],
    name?: string,
  ): GraphNode[] {
    const nodeName = this.uniqueName(name ?? `${op}_${this.counter++}`);
    const def: NodeDef = { name: nodeName, op, attr: attrs };
    if (inputs.length > 0) def.input = inputs.map((n) => n.ref);
    this.nodeDefs.push(def);
    return outs.map((o, i) => ({ ref: i === 0 ? nodeName : `${nodeName}:${i}`, dtype: o.dtype, dims: o.dims }));
  }

  private emit1(op: string, inputs: GraphNode[], attrs: Record<string, AttrValue>, dtype: DType, dims: (number | GraphNode | null)[], name?: string): GraphNode {
    return this.emit(op, inputs, attrs, [{ dtype, dims }], name)[0];
  }

  private constNode(
    base: string,
    dtype: 'float32' | 'int32' | 'bool',
    shape: number[],
    read: () => Float32Array | Int32Array | Uint8Array,
    length: number,
    flags: { isParameter: boolean; fromWeight: boolean; int8?: boolean },
  ): GraphNode {
    const size = shape.reduce((a, b) => a * b, 1);
    if (length !== size) throw new PolyglotError(`graph export: constant ${base}: expected ${size} values for shape [${shape}], found ${length}`);
    const node = this.emit1(
      'Const',
      [],
      {
        dtype: attr.type(dtype),
        value: { tensor: { dtype: TF_DTYPE[dtype], tensorShape: { dim: shape.map((d) => ({ size: String(d) })) } } },
      },
      dtype,
      shape.slice(),
      base,
    );
    this.consts.set(node.ref, { name: node.ref, dtype, shape: shape.slice(), read, ...flags });
    return node;
  }

  private intVector(values: number[]): GraphNode {
    return this.constant(values, [values.length], 'int32');
  }

  /** A 1-D int32 node from dims that may be dynamic (Const when all static, Pack otherwise). */
  private dimsVector(dims: Dim<GraphNode>[]): GraphNode {
    if (dims.every((d) => typeof d === 'number')) return this.intVector(dims as number[]);
    const scalars = dims.map((d) => this.dimNode(d));
    return this.emit1('Pack', scalars, { N: attr.i(scalars.length), T: attr.type('int32'), axis: attr.i(0) }, 'int32', [dims.length]);
  }

  /** A scalar int32 node for a dimension. */
  private dimNode(d: Dim<GraphNode>): GraphNode {
    if (typeof d === 'number') return this.scalar(d, 'int32');
    if (d.dims.length !== 0 || d.dtype !== 'int32') throw new PolyglotError(`graph export: a dimension must be a scalar int32 node, found ${d.dtype} of rank ${d.dims.length}`);
    return d;
  }

  /** Graph inputs: a Placeholder named `name` (the signature key); null dims are dynamic. */
  input(name: string, dtype: DType, shape: (number | null)[]): GraphNode {
    if (this.nodeNames.has(name)) throw new PolyglotError(`graph export: input name ${name} is used twice`);
    const node = this.emit1('Placeholder', [], { dtype: attr.type(dtype), shape: attr.shape(shape) }, dtype, shape.slice(), name);
    this.inputs.push({ name, dtype, shape: shape.slice() });
    return node;
  }

  /** Graph outputs: an Identity node named `name` (the signature key). */
  output(name: string, x: GraphNode): void {
    if (this.nodeNames.has(name)) throw new PolyglotError(`graph export: output name ${name} is used twice (or clashes with a node)`);
    this.emit1('Identity', [x], { T: attr.type(x.dtype) }, x.dtype, x.dims, name);
    this.outputs.push({ name, dtype: x.dtype, shape: x.dims.map((d) => (typeof d === 'number' ? d : null)) });
  }

  /** The graph so far, keeping only nodes the outputs depend on (plus every input). */
  finish(): RecordedGraph {
    if (this.outputs.length === 0) throw new PolyglotError('graph export: the graph has no outputs');
    const byName = new Map(this.nodeDefs.map((n) => [n.name, n]));
    const keep = new Set<string>(this.inputs.map((i) => i.name));
    const stack = this.outputs.map((o) => o.name);
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (keep.has(name)) continue;
      keep.add(name);
      for (const ref of byName.get(name)?.input ?? []) stack.push(ref.split(':')[0]);
    }
    const nodes = this.nodeDefs.filter((n) => keep.has(n.name));
    const consts = [...this.consts.values()].filter((c) => keep.has(c.name));
    return { nodes, consts, inputs: this.inputs.slice(), outputs: this.outputs.slice() };
  }

  // ------------------------------------------------------------------ sources

  weight(name: string, value: Tensor): GraphNode {
    const key = value.dataId as object;
    const seen = this.weightByData.get(key);
    if (seen) return seen;
    if (value.dtype !== 'float32' && value.dtype !== 'int32') throw new PolyglotError(`graph export: weight ${name}: expected float32 or int32, found ${value.dtype}`);
    // Read when written, not copied now: the model (and so this tensor) must stay alive until
    // the graph is written; a disposed tensor fails loudly there.
    const read = (): Float32Array | Int32Array => {
      if (value.isDisposed) throw new PolyglotError(`graph export: weight ${name} was disposed before the graph was written`);
      return value.dataSync() as Float32Array | Int32Array;
    };
    // The Const is named after the HF parameter (readable graphs and manifests).
    const isParameter = value.dtype === 'float32' && (this.options.isParameter?.(name) ?? true);
    const node = this.constNode(name, value.dtype, value.shape.slice(), read, value.size, { isParameter, fromWeight: true, int8: int8ValuedTensors.has(value) });
    this.weightByData.set(key, node);
    return node;
  }

  scalar(value: number, dtype: DType = 'float32'): GraphNode {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
    const seen = this.scalarCache.get(key);
    if (seen) return seen;
    const node = this.constant([value], [], dtype);
    this.scalarCache.set(key, node);
    return node;
  }

  constant(values: ArrayLike<number>, shape: number[], dtype: DType = 'float32'): GraphNode {
    const arr = Array.from(values);
    const data = dtype === 'float32' ? Float32Array.from(arr) : dtype === 'int32' ? Int32Array.from(arr) : Uint8Array.from(arr.map((v) => (v ? 1 : 0)));
    return this.constNode('Const', dtype, shape, () => data, data.length, { isParameter: false, fromWeight: false });
  }

  range(start: Dim<GraphNode>, end: Dim<GraphNode>): GraphNode {
    let dim: number | GraphNode | null = null;
    if (typeof start === 'number' && typeof end === 'number') dim = Math.max(0, end - start);
    else if (start === 0 && isNode(end)) dim = end;
    return this.emit1('Range', [this.dimNode(start), this.dimNode(end), this.scalar(1, 'int32')], { Tidx: attr.type('int32') }, 'int32', [dim]);
  }

  // ------------------------------------------------------------------ shape

  shape(x: GraphNode): Dim<GraphNode>[] {
    return x.dims.map((d, i) => {
      if (d !== null) return d;
      const key = `${x.ref}#${i}`;
      let node = this.dimCache.get(key);
      if (!node) {
        let shp = this.shapeCache.get(x.ref);
        if (!shp) {
          shp = this.emit1('Shape', [x], { T: attr.type(x.dtype), out_type: attr.type('int32') }, 'int32', [x.dims.length]);
          this.shapeCache.set(x.ref, shp);
        }
        node = this.emit1(
          'StridedSlice',
          [shp, this.intVector([i]), this.intVector([i + 1]), this.intVector([1])],
          { T: attr.type('int32'), Index: attr.type('int32'), begin_mask: attr.i(0), end_mask: attr.i(0), ellipsis_mask: attr.i(0), new_axis_mask: attr.i(0), shrink_axis_mask: attr.i(1) },
          'int32',
          [],
        );
        this.dimCache.set(key, node);
      }
      return node;
    });
  }

  rank(x: GraphNode): number {
    return x.dims.length;
  }

  dtype(x: GraphNode): DType {
    return x.dtype;
  }

  reshape(x: GraphNode, shape: Dim<GraphNode>[]): GraphNode {
    const dims: (number | GraphNode | null)[] = shape.map((d) => (d === -1 ? null : d));
    const minus = shape.filter((d) => d === -1).length;
    if (minus > 1) throw new PolyglotError(`graph export: reshape: at most one -1 dimension, found ${minus}`);
    if (minus === 1 && x.dims.every((d) => typeof d === 'number') && dims.every((d) => d === null || typeof d === 'number')) {
      const total = (x.dims as number[]).reduce((a, b) => a * b, 1);
      const known = (dims.filter((d) => d !== null) as number[]).reduce((a, b) => a * b, 1);
      dims[dims.indexOf(null)] = known === 0 ? 0 : total / known;
    }
    return this.emit1('Reshape', [x, this.dimsVector(shape)], { T: attr.type(x.dtype), Tshape: attr.type('int32') }, x.dtype, dims);
  }

  transpose(x: GraphNode, perm: number[]): GraphNode {
    if (perm.length !== x.dims.length) throw new PolyglotError(`graph export: transpose: perm [${perm}] does not match rank ${x.dims.length}`);
    return this.emit1('Transpose', [x, this.intVector(perm)], { T: attr.type(x.dtype), Tperm: attr.type('int32') }, x.dtype, perm.map((p) => x.dims[p]));
  }

  expandDims(x: GraphNode, axis: number): GraphNode {
    const a = normAxis(axis, x.dims.length + 1, 'expandDims');
    const dims = x.dims.slice();
    dims.splice(a, 0, 1);
    return this.emit1('ExpandDims', [x, this.scalar(a, 'int32')], { T: attr.type(x.dtype), Tdim: attr.type('int32') }, x.dtype, dims);
  }

  squeeze(x: GraphNode, axes: number[]): GraphNode {
    const norm = axes.map((a) => normAxis(a, x.dims.length, 'squeeze'));
    const dims = x.dims.filter((_, i) => !norm.includes(i));
    return this.emit1('Squeeze', [x], { T: attr.type(x.dtype), squeeze_dims: attr.ints(norm) }, x.dtype, dims);
  }

  concat(xs: GraphNode[], axis: number): GraphNode {
    if (xs.length === 0) throw new PolyglotError('graph export: concat of no tensors');
    if (xs.length === 1) return xs[0];
    const a = normAxis(axis, xs[0].dims.length, 'concat');
    const dims = xs[0].dims.slice();
    const along = xs.map((x) => x.dims[a]);
    dims[a] = along.every((d) => typeof d === 'number') ? (along as number[]).reduce((p, q) => p + q, 0) : null;
    for (let i = 0; i < dims.length; i++) {
      if (i !== a && dims[i] === null) dims[i] = xs.map((x) => x.dims[i]).find((d) => d !== null) ?? null;
    }
    return this.emit1('ConcatV2', [...xs, this.scalar(a, 'int32')], { T: attr.type(xs[0].dtype), N: attr.i(xs.length), Tidx: attr.type('int32') }, xs[0].dtype, dims);
  }

  slice(x: GraphNode, begin: Dim<GraphNode>[], size: Dim<GraphNode>[]): GraphNode {
    const rank = x.dims.length;
    if (begin.length !== rank || size.length !== rank) throw new PolyglotError(`graph export: slice: begin/size need ${rank} entries, found ${begin.length}/${size.length}`);
    const dims = size.map((s, i): number | GraphNode | null => {
      if (s !== -1) return s;
      const d = x.dims[i];
      const b = begin[i];
      if (typeof b === 'number' && b === 0) return d;
      if (typeof d === 'number' && typeof b === 'number') return d - b;
      return null;
    });
    return this.emit1('Slice', [x, this.dimsVector(begin), this.dimsVector(size)], { T: attr.type(x.dtype), Index: attr.type('int32') }, x.dtype, dims);
  }

  gather(x: GraphNode, indices: GraphNode, axis = 0): GraphNode {
    const a = normAxis(axis, x.dims.length, 'gather');
    const dims = [...x.dims.slice(0, a), ...indices.dims, ...x.dims.slice(a + 1)];
    return this.emit1(
      'GatherV2',
      [x, indices, this.scalar(a, 'int32')],
      { Tparams: attr.type(x.dtype), Tindices: attr.type(indices.dtype), Taxis: attr.type('int32'), batch_dims: attr.i(0) },
      x.dtype,
      dims,
    );
  }

  tile(x: GraphNode, reps: Dim<GraphNode>[]): GraphNode {
    const dims = x.dims.map((d, i) => {
      const r = reps[i];
      if (r === 1) return d;
      if (typeof r === 'number' && typeof d === 'number') return r * d;
      if (d === 1) return r;
      return null;
    });
    return this.emit1('Tile', [x, this.dimsVector(reps)], { T: attr.type(x.dtype), Tmultiples: attr.type('int32') }, x.dtype, dims);
  }

  dimMul(a: Dim<GraphNode>, b: Dim<GraphNode>): Dim<GraphNode> {
    if (typeof a === 'number' && typeof b === 'number') return a * b;
    if (a === 1) return b;
    if (b === 1) return a;
    return this.binary('Mul', this.dimNode(a), this.dimNode(b));
  }

  dimAdd(a: Dim<GraphNode>, b: Dim<GraphNode>): Dim<GraphNode> {
    if (typeof a === 'number' && typeof b === 'number') return a + b;
    if (a === 0) return b;
    if (b === 0) return a;
    return this.binary('AddV2', this.dimNode(a), this.dimNode(b));
  }

  // ------------------------------------------------------------------ elementwise

  private broadcastDims(a: GraphNode, b: GraphNode): (number | GraphNode | null)[] {
    const rank = Math.max(a.dims.length, b.dims.length);
    const out: (number | GraphNode | null)[] = [];
    for (let i = 0; i < rank; i++) {
      const da = i - (rank - a.dims.length) >= 0 ? a.dims[i - (rank - a.dims.length)] : 1;
      const db = i - (rank - b.dims.length) >= 0 ? b.dims[i - (rank - b.dims.length)] : 1;
      if (typeof da === 'number' && typeof db === 'number') {
        if (da !== db && da !== 1 && db !== 1) throw new PolyglotError(`graph export: shapes [${this.fmt(a)}] and [${this.fmt(b)}] do not broadcast`);
        out.push(Math.max(da, db));
      } else if (da === 1) out.push(db);
      else if (db === 1) out.push(da);
      else if (typeof da === 'number') out.push(da);
      else if (typeof db === 'number') out.push(db);
      else out.push(da ?? db);
    }
    return out;
  }

  private fmt(x: GraphNode): string {
    return x.dims.map((d) => (typeof d === 'number' ? String(d) : '?')).join(',');
  }

  private binary(op: string, a: GraphNode, b: GraphNode, outDtype?: DType): GraphNode {
    const t = upcast(a.dtype, b.dtype);
    return this.emit1(op, [a, b], { T: attr.type(t) }, outDtype ?? t, this.broadcastDims(a, b));
  }

  private unary(op: string, x: GraphNode): GraphNode {
    return this.emit1(op, [x], { T: attr.type(x.dtype) }, x.dtype, x.dims.slice());
  }

  add(a: GraphNode, b: GraphNode): GraphNode { return this.binary('AddV2', a, b); }
  sub(a: GraphNode, b: GraphNode): GraphNode { return this.binary('Sub', a, b); }
  mul(a: GraphNode, b: GraphNode): GraphNode { return this.binary('Mul', a, b); }
  div(a: GraphNode, b: GraphNode): GraphNode { return this.binary('RealDiv', a, b); }
  maximum(a: GraphNode, b: GraphNode): GraphNode { return this.binary('Maximum', a, b); }
  minimum(a: GraphNode, b: GraphNode): GraphNode { return this.binary('Minimum', a, b); }
  pow(a: GraphNode, b: GraphNode): GraphNode { return this.binary('Pow', a, b); }
  neg(x: GraphNode): GraphNode { return this.unary('Neg', x); }
  abs(x: GraphNode): GraphNode { return this.unary('Abs', x); }
  exp(x: GraphNode): GraphNode { return this.unary('Exp', x); }
  log(x: GraphNode): GraphNode { return this.unary('Log', x); }
  sqrt(x: GraphNode): GraphNode { return this.unary('Sqrt', x); }
  rsqrt(x: GraphNode): GraphNode { return this.unary('Rsqrt', x); }
  square(x: GraphNode): GraphNode { return this.unary('Square', x); }
  tanh(x: GraphNode): GraphNode { return this.unary('Tanh', x); }
  erf(x: GraphNode): GraphNode { return this.unary('Erf', x); }
  relu(x: GraphNode): GraphNode { return this.unary('Relu', x); }
  sigmoid(x: GraphNode): GraphNode { return this.unary('Sigmoid', x); }
  sin(x: GraphNode): GraphNode { return this.unary('Sin', x); }
  cos(x: GraphNode): GraphNode { return this.unary('Cos', x); }
  floor(x: GraphNode): GraphNode { return this.unary('Floor', x); }
  ceil(x: GraphNode): GraphNode { return this.unary('Ceil', x); }

  cast(x: GraphNode, dtype: DType): GraphNode {
    if (x.dtype === dtype) return x;
    return this.emit1('Cast', [x], { SrcT: attr.type(x.dtype), DstT: attr.type(dtype), Truncate: attr.b(false) }, dtype, x.dims.slice());
  }

  // ------------------------------------------------------------------ comparisons / selection

  equal(a: GraphNode, b: GraphNode): GraphNode { return this.binary('Equal', a, b, 'bool'); }
  notEqual(a: GraphNode, b: GraphNode): GraphNode { return this.binary('NotEqual', a, b, 'bool'); }
  less(a: GraphNode, b: GraphNode): GraphNode { return this.binary('Less', a, b, 'bool'); }
  lessEqual(a: GraphNode, b: GraphNode): GraphNode { return this.binary('LessEqual', a, b, 'bool'); }
  greater(a: GraphNode, b: GraphNode): GraphNode { return this.binary('Greater', a, b, 'bool'); }
  greaterEqual(a: GraphNode, b: GraphNode): GraphNode { return this.binary('GreaterEqual', a, b, 'bool'); }
  logicalAnd(a: GraphNode, b: GraphNode): GraphNode { return this.emit1('LogicalAnd', [a, b], {}, 'bool', this.broadcastDims(a, b)); }
  logicalOr(a: GraphNode, b: GraphNode): GraphNode { return this.emit1('LogicalOr', [a, b], {}, 'bool', this.broadcastDims(a, b)); }
  logicalNot(x: GraphNode): GraphNode { return this.emit1('LogicalNot', [x], {}, 'bool', x.dims.slice()); }

  where(cond: GraphNode, a: GraphNode, b: GraphNode): GraphNode {
    const t = upcast(a.dtype, b.dtype);
    const dims = this.broadcastDims(cond, this.emitless(a, b));
    return this.emit1('SelectV2', [cond, a, b], { T: attr.type(t) }, t, dims);
  }

  /** A shape-only stand-in for broadcast(a, b) (no node is emitted). */
  private emitless(a: GraphNode, b: GraphNode): GraphNode {
    return { ref: '', dtype: a.dtype, dims: this.broadcastDims(a, b) };
  }

  // ------------------------------------------------------------------ reductions

  private reduce(op: string, x: GraphNode, axis: number | number[], keepDims: boolean): GraphNode {
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => normAxis(a, x.dims.length, op));
    const dims = keepDims ? x.dims.map((d, i) => (axes.includes(i) ? 1 : d)) : x.dims.filter((_, i) => !axes.includes(i));
    return this.emit1(op, [x, this.intVector(axes)], { T: attr.type(x.dtype), Tidx: attr.type('int32'), keep_dims: attr.b(keepDims) }, x.dtype, dims);
  }

  sum(x: GraphNode, axis: number | number[], keepDims = false): GraphNode { return this.reduce('Sum', x, axis, keepDims); }
  mean(x: GraphNode, axis: number | number[], keepDims = false): GraphNode { return this.reduce('Mean', x, axis, keepDims); }
  max(x: GraphNode, axis: number | number[], keepDims = false): GraphNode { return this.reduce('Max', x, axis, keepDims); }
  min(x: GraphNode, axis: number | number[], keepDims = false): GraphNode { return this.reduce('Min', x, axis, keepDims); }

  argMax(x: GraphNode, axis: number): GraphNode {
    const a = normAxis(axis, x.dims.length, 'argMax');
    return this.emit1('ArgMax', [x, this.scalar(a, 'int32')], { T: attr.type(x.dtype), Tidx: attr.type('int32'), output_type: attr.type('int32') }, 'int32', x.dims.filter((_, i) => i !== a));
  }

  cumsum(x: GraphNode, axis: number, exclusive = false): GraphNode {
    const a = normAxis(axis, x.dims.length, 'cumsum');
    return this.emit1('Cumsum', [x, this.scalar(a, 'int32')], { T: attr.type(x.dtype), Tidx: attr.type('int32'), exclusive: attr.b(exclusive), reverse: attr.b(false) }, x.dtype, x.dims.slice());
  }

  topk(x: GraphNode, k: number): TopK<GraphNode> {
    const dims = x.dims.slice();
    dims[dims.length - 1] = k;
    const [values, indices] = this.emit('TopKV2', [x, this.scalar(k, 'int32')], { T: attr.type(x.dtype), sorted: attr.b(true) }, [
      { dtype: x.dtype, dims },
      { dtype: 'int32', dims },
    ]);
    return { values, indices };
  }

  // ------------------------------------------------------------------ neural-net primitives

  matMul(a: GraphNode, b: GraphNode, transposeA = false, transposeB = false): GraphNode {
    const ra = a.dims.length;
    const rb = b.dims.length;
    if (ra < 2 || rb < 2) throw new PolyglotError(`graph export: matMul needs rank >= 2 operands, found ranks ${ra} and ${rb}`);
    const n = transposeB ? b.dims[rb - 2] : b.dims[rb - 1];
    if (ra === 2 && rb === 2) {
      const m = transposeA ? a.dims[1] : a.dims[0];
      return this.emit1('MatMul', [a, b], { T: attr.type('float32'), transpose_a: attr.b(transposeA), transpose_b: attr.b(transposeB) }, 'float32', [m, n]);
    }
    if (rb === 2 && !transposeA) {
      // Same folding as eagerOps: rows of every batch through one 2-D product.
      const lead = this.shape(a).slice(0, -1);
      const k = this.shape(a)[ra - 1];
      const a2 = this.reshape(a, [-1, k]);
      const out = this.matMul(a2, b, false, transposeB);
      return this.reshape(out, [...lead, n ?? this.shape(out)[1]]);
    }
    const batchA = a.dims.slice(0, -2);
    const batchB = b.dims.slice(0, -2);
    const batch = this.broadcastDims({ ref: '', dtype: 'float32', dims: batchA }, { ref: '', dtype: 'float32', dims: batchB });
    const m = transposeA ? a.dims[ra - 1] : a.dims[ra - 2];
    return this.emit1('BatchMatMulV2', [a, b], { T: attr.type('float32'), adj_x: attr.b(transposeA), adj_y: attr.b(transposeB) }, 'float32', [...batch, m, n]);
  }

  softmax(x: GraphNode): GraphNode { return this.unary('Softmax', x); }
  logSoftmax(x: GraphNode): GraphNode { return this.unary('LogSoftmax', x); }

  oneHot(indices: GraphNode, depth: number): GraphNode {
    // Same as eagerOps: int32 one-hot then cast (wasm's float OneHot kernel is broken).
    const idx = this.cast(indices, 'int32');
    const oh = this.emit1(
      'OneHot',
      [idx, this.scalar(depth, 'int32'), this.scalar(1, 'int32'), this.scalar(0, 'int32')],
      { T: attr.type('int32'), TI: attr.type('int32'), axis: attr.i(-1) },
      'int32',
      [...idx.dims, depth],
    );
    return this.cast(oh, 'float32');
  }
}
