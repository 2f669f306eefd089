/**
 * An XGLM-shaped ONNX model written from JS for the ONNX Runtime comparison (bench/ort.ts):
 * the protobuf wire format by hand (only the ModelProto / GraphProto / NodeProto / TensorProto /
 * ValueInfoProto / AttributeProto fields used), weights in an external data file (ONNX's
 * `external_data`, so the 2 GB protobuf limit does not apply). Random weights, batch 1.
 * The graph is HF XGLM's decoder with a KV cache: embeddings x sqrt(d) + sinusoidal positions
 * (a table, gathered by the `position_ids` input), pre-LayerNorm blocks (attention with
 * past_key/past_value inputs and present outputs, additive `attn_bias` input for the causal
 * mask), GELU FFN, final LayerNorm, tied lm_head (Gemm transB on the embedding).
 * int8: every projection, FFN and the lm_head as onnxruntime's dynamic quantization writes them
 * (transformers.js "q8"): DynamicQuantizeLinear on the activations, MatMulInteger with int8
 * weights (per output channel, zero point 0), Cast, Mul by the two scales.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

// ---- protobuf wire format -------------------------------------------------------------------

class Writer {
  private chunks: Buffer[] = [];
  private size = 0;
  private push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
  }
  varint(field: number, v: number | bigint): this {
    this.key(field, 0);
    this.rawVarint(BigInt(v));
    return this;
  }
  private key(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }
  private rawVarint(v: bigint): void {
    // negative int64: two's complement over 10 bytes
    let x = v < 0n ? (1n << 64n) + v : v;
    const bytes: number[] = [];
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) b |= 0x80;
      bytes.push(b);
    } while (x !== 0n);
    this.push(Buffer.from(bytes));
  }
  bytes(field: number, data: Uint8Array | Buffer): this {
    this.key(field, 2);
    this.rawVarint(BigInt(data.length));
    this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    this.push(b);
    return this;
  }
  finish(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

const FLOAT = 1;
const INT8 = 3;
const INT64 = 7;

type Attr = { name: string; i?: number; f?: number; ints?: number[] };

function attribute(a: Attr): Writer {
  const w = new Writer().string(1, a.name);
  if (a.f !== undefined) w.float(2, a.f).varint(20, 1);
  else if (a.i !== undefined) w.varint(3, a.i).varint(20, 2);
  else if (a.ints !== undefined) {
    for (const v of a.ints) w.varint(8, v);
    w.varint(20, 7);
  }
  return w;
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): Writer {
  const shape = new Writer();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new Writer().varint(1, d) : new Writer().string(2, d));
  const tensorType = new Writer().varint(1, elemType).message(2, shape);
  return new Writer().string(1, name).message(2, new Writer().message(1, tensorType));
}

// ---- graph builder --------------------------------------------------------------------------

class Graph {
  readonly nodes: Writer[] = [];
  readonly initializers: Writer[] = [];
  readonly inputs: Writer[] = [];
  readonly outputs: Writer[] = [];
  private n = 0;
  private dataFd: number;
  private dataOffset = 0;

  constructor(
    readonly dataPath: string,
    private readonly seed = 1,
  ) {
    this.dataFd = fs.openSync(dataPath, 'w');
    this.rng = seed >>> 0;
  }
  private rng: number;

  close(): void {
    fs.closeSync(this.dataFd);
  }

  /** A weight in the external data file (offsets aligned to 64 bytes as ORT prefers). */
  private external(name: string, elemType: number, dims: number[], data: Uint8Array): string {
    const pad = (64 - (this.dataOffset % 64)) % 64;
    if (pad) fs.writeSync(this.dataFd, Buffer.alloc(pad));
    this.dataOffset += pad;
    const offset = this.dataOffset;
    fs.writeSync(this.dataFd, data);
    this.dataOffset += data.byteLength;
    const t = new Writer();
    for (const d of dims) t.varint(1, d);
    t.varint(2, elemType).string(8, name);
    const entry = (k: string, v: string) => new Writer().string(1, k).string(2, v);
    t.message(13, entry('location', path.basename(this.dataPath)));
    t.message(13, entry('offset', String(offset)));
    t.message(13, entry('length', String(data.byteLength)));
    t.varint(14, 1);
    this.initializers.push(t);
    return name;
  }

  /** A small inline constant. */
  constant(elemType: number, dims: number[], data: Uint8Array): string {
    const name = `c${this.n++}`;
    const t = new Writer();
    for (const d of dims) t.varint(1, d);
    t.varint(2, elemType).string(8, name).bytes(9, data);
    this.initializers.push(t);
    return name;
  }
  int64s(values: number[]): string {
    return this.constant(INT64, [values.length], new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer));
  }
  scalarF(v: number): string {
    return this.constant(FLOAT, [], new Uint8Array(Float32Array.of(v).buffer));
  }

  private next(): number {
    this.rng = (Math.imul(this.rng, 1664525) + 1013904223) >>> 0;
    return this.rng;
  }
  randomF32(name: string, dims: number[], std: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const half = std * Math.sqrt(3);
    for (let i = 0; i < n; i++) data[i] = (this.next() / 2147483648 - 1) * half;
    return this.external(name, FLOAT, dims, new Uint8Array(data.buffer));
  }
  filledF32(name: string, dims: number[], v: number): string {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(v);
    return this.external(name, FLOAT, dims, new Uint8Array(data.buffer));
  }
  /** int8 weight [K, N] (random in -127..127) and its per-column scales [N] (std / 73, about uniform +-std*sqrt3). */
  randomInt8(name: string, k: number, n: number, std: number): { q: string; scale: string; zero: string } {
    const q = new Int8Array(k * n);
    for (let i = 0; i < q.length; i++) q[i] = (this.next() % 255) - 127;
    const scale = new Float32Array(n).fill((std * Math.sqrt(3)) / 127);
    return {
      q: this.external(name, INT8, [k, n], new Uint8Array(q.buffer)),
      scale: this.external(`${name}_scale`, FLOAT, [n], new Uint8Array(scale.buffer)),
      zero: this.external(`${name}_zero`, INT8, [n], new Uint8Array(n)),
    };
  }
  table(name: string, data: Float32Array, dims: number[]): string {
    return this.external(name, FLOAT, dims, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  op(type: string, inputs: string[], attrs: Attr[] = [], outputs = 1, domain?: string): string[] {
    const outs = Array.from({ length: outputs }, () => `t${this.n++}`);
    const w = new Writer();
    for (const i of inputs) w.string(1, i);
    for (const o of outs) w.string(2, o);
    w.string(3, `n${this.n++}`).string(4, type);
    for (const a of attrs) w.message(5, attribute(a));
    if (domain) w.string(7, domain);
    this.nodes.push(w);
    return outs;
  }
  op1(type: string, inputs: string[], attrs: Attr[] = []): string {
    return this.op(type, inputs, attrs)[0];
  }
  /** Exposes `from` under the public name `to` (an Identity node). */
  rename(from: string, to: string): void {
    const w = new Writer().string(1, from).string(2, to).string(3, `n${this.n++}`).string(4, 'Identity');
    this.nodes.push(w);
  }

  model(): Buffer {
    const g = new Writer();
    for (const n of this.nodes) g.message(1, n);
    g.string(2, 'xglm');
    for (const t of this.initializers) g.message(5, t);
    for (const i of this.inputs) g.message(11, i);
    for (const o of this.outputs) g.message(12, o);
    return new Writer()
      .varint(1, 8)
      .string(2, 'tfjs-polyglot bench')
      .message(7, g)
      .message(8, new Writer().string(1, '').varint(2, 17))
      .message(8, new Writer().string(1, 'com.microsoft').varint(2, 1))
      .finish();
  }
}

export interface XglmOnnxShape {
  d: number;
  layers: number;
  ffn: number;
  heads: number;
  vocab: number;
  maxPositions: number;
}

/** HF XGLM sinusoidal table: sin half then cos half, rows offset by 2 (padding_idx 1 + 1). */
function sinusoids(rows: number, d: number): Float32Array {
  const half = d / 2;
  const out = new Float32Array(rows * d);
  const step = Math.log(10000) / (half - 1);
  for (let p = 0; p < rows; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * Math.exp(-i * step);
      out[p * d + i] = Math.sin(a);
      out[p * d + half + i] = Math.cos(a);
    }
  }
  return out;
}

/**
 * Writes `<dir>/xglm-<precision>.onnx` + `.data`. Inputs: input_ids [1, T] int64, position_ids
 * [1, T] int64 (HF: past + i + 2), attn_bias [1, 1, T, P + T] float, past_key_i / past_value_i
 * [1, H, P, dh]. Outputs: logits [1, T, V], present_key_i / present_value_i.
 */
export function writeXglmOnnx(dir: string, s: XglmOnnxShape, precision: 'float32' | 'int8'): string {
  const file = path.join(dir, `xglm-${precision}.onnx`);
  const g = new Graph(`${file}.data`);
  const { d, heads: H, ffn } = s;
  const dh = d / H;
  const std = 0.02;
  g.inputs.push(valueInfo('input_ids', INT64, [1, 'T']), valueInfo('position_ids', INT64, [1, 'T']), valueInfo('attn_bias', FLOAT, [1, 1, 'T', 'K']));
  const embed = g.randomF32('embed_tokens', [s.vocab, d], std);
  const pos = g.table('positions', sinusoids(s.maxPositions, d), [s.maxPositions, d]);
  const bias = 'attn_bias';
  let x = g.op1('Add', [g.op1('Mul', [g.op1('Gather', [embed, 'input_ids']), g.scalarF(Math.sqrt(d))]), g.op1('Gather', [pos, 'position_ids'])]);

  const linear = (name: string, input: string, k: number, n: number): string => {
    const b = g.filledF32(`${name}.bias`, [n], 0);
    if (precision === 'float32') return g.op1('Add', [g.op1('MatMul', [input, g.randomF32(`${name}.weight`, [k, n], std)]), b]);
    const w = g.randomInt8(`${name}.weight`, k, n, std);
    const [xq, xs, xz] = g.op('DynamicQuantizeLinear', [input], [], 3);
    const acc = g.op1('MatMulInteger', [xq, w.q, xz, w.zero]);
    const scaled = g.op1('Mul', [g.op1('Mul', [g.op1('Cast', [acc], [{ name: 'to', i: FLOAT }]), xs]), w.scale]);
    return g.op1('Add', [scaled, b]);
  };
  const layerNorm = (name: string, input: string): string =>
    g.op1('LayerNormalization', [input, g.filledF32(`${name}.weight`, [d], 1), g.filledF32(`${name}.bias`, [d], 0)], [{ name: 'axis', i: -1 }, { name: 'epsilon', f: 1e-5 }]);
  const heads = g.int64s([0, 0, H, dh]);
  const merged = g.int64s([0, 0, d]);
  const split = (t: string) => g.op1('Transpose', [g.op1('Reshape', [t, heads])], [{ name: 'perm', ints: [0, 2, 1, 3] }]);

  for (let l = 0; l < s.layers; l++) {
    const p = `layers.${l}`;
    g.inputs.push(valueInfo(`past_key_${l}`, FLOAT, [1, H, 'P', dh]), valueInfo(`past_value_${l}`, FLOAT, [1, H, 'P', dh]));
    const h = layerNorm(`${p}.self_attn_layer_norm`, x);
    const q = split(g.op1('Mul', [linear(`${p}.q_proj`, h, d, d), g.scalarF(1 / Math.sqrt(dh))]));
    const k = g.op1('Concat', [`past_key_${l}`, split(linear(`${p}.k_proj`, h, d, d))], [{ name: 'axis', i: 2 }]);
    const v = g.op1('Concat', [`past_value_${l}`, split(linear(`${p}.v_proj`, h, d, d))], [{ name: 'axis', i: 2 }]);
    g.rename(k, `present_key_${l}`);
    g.rename(v, `present_value_${l}`);
    g.outputs.push(valueInfo(`present_key_${l}`, FLOAT, [1, H, 'K', dh]), valueInfo(`present_value_${l}`, FLOAT, [1, H, 'K', dh]));
    const scores = g.op1('Add', [g.op1('MatMul', [q, g.op1('Transpose', [k], [{ name: 'perm', ints: [0, 1, 3, 2] }])]), bias]);
    const ctx = g.op1('MatMul', [g.op1('Softmax', [scores], [{ name: 'axis', i: -1 }]), v]);
    const attn = g.op1('Reshape', [g.op1('Transpose', [ctx], [{ name: 'perm', ints: [0, 2, 1, 3] }]), merged]);
    x = g.op1('Add', [x, linear(`${p}.out_proj`, attn, d, d)]);
    const f = layerNorm(`${p}.final_layer_norm`, x);
    const act = g.op('Gelu', [linear(`${p}.fc1`, f, d, ffn)], [], 1, 'com.microsoft')[0];
    x = g.op1('Add', [x, linear(`${p}.fc2`, act, ffn, d)]);
  }
  x = layerNorm('layer_norm', x);
  let logits: string;
  if (precision === 'float32') {
    // tied lm_head: logits = x E^T (Gemm transB on [T, d])
    const rows = g.op1('Reshape', [x, g.int64s([-1, d])]);
    const flat = g.op1('Gemm', [rows, embed], [{ name: 'transB', i: 1 }]);
    logits = g.op1('Unsqueeze', [flat, g.int64s([0])]);
  } else {
    // q8 stores the tied head as its own int8 [d, V] weight
    const w = g.randomInt8('lm_head.weight', d, s.vocab, std);
    const [xq, xs, xz] = g.op('DynamicQuantizeLinear', [x], [], 3);
    logits = g.op1('Mul', [g.op1('Mul', [g.op1('Cast', [g.op1('MatMulInteger', [xq, w.q, xz, w.zero])], [{ name: 'to', i: FLOAT }]), xs]), w.scale]);
  }
  g.rename(logits, 'logits');
  g.outputs.unshift(valueInfo('logits', FLOAT, [1, 'T', s.vocab]));
  g.close();
  fs.writeFileSync(file, g.model());
  return file;
}

