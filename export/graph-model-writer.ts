/**
 * Writes a recorded graph as a TensorFlow.js GraphModel folder, the layout tfjs-converter
 * produces and `tf.loadGraphModel` reads:
 *   model.json  {format: "graph-model", generatedBy, convertedBy,
 *                modelTopology: {node, library, versions}, signature, userDefinedMetadata,
 *                weightsManifest: [{paths, weights: [{name, shape, dtype, quantization?}]}, ...]}
 *   <group>-shardKofN.bin   a weight group's bytes in manifest order, cut into 4 MB shards
 *                           (the loader concatenates a group's shards, so weights may straddle).
 * Weights are streamed: one weight's encoded bytes and one shard buffer are in memory at a time.
 * Several graphs of one model can share weight groups written once (`writeWeightGroup`),
 * referenced from each model.json by relative paths (`../weights/...`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import type { DType } from '../ops/ops.js';
import type { ConstValue, NodeDef, RecordedGraph, SignatureEntry } from '../ops/graph.js';
import { quantizeFloat32, type QuantizeMode, type Quantized } from './quantize.js';

/** tfjs-converter's default shard size. */
export const SHARD_BYTES = 4 * 1024 * 1024;
export const GENERATED_BY = 'tfjs-polyglot 0.1.0';

export interface WeightEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  quantization?: Quantized['quantization'];
}

/** One weightsManifest entry: shard paths (relative to model.json) and the weights they hold, in order. */
export interface WeightGroup {
  paths: string[];
  weights: WeightEntry[];
}

export interface SignatureTensor {
  name: string;
  dtype: string;
  tensorShape: { dim: { size: string }[] };
}

export interface GraphModelJson {
  format: 'graph-model';
  generatedBy: string;
  convertedBy: string;
  modelTopology: { node: NodeDef[]; library: Record<string, never>; versions: { producer: number } };
  signature: { inputs: Record<string, SignatureTensor>; outputs: Record<string, SignatureTensor> };
  userDefinedMetadata: { structuredOutputKeys: string[] } & Record<string, unknown>;
  weightsManifest: WeightGroup[];
}

export interface WeightWriteOptions {
  quantize?: QuantizeMode;
  shardBytes?: number;
}

/** A written weight group: its manifest entry plus the byte size of each shard file. */
export interface WrittenWeightGroup extends WeightGroup {
  sizes: number[];
  bytes: number;
}

export interface GraphModelOptions extends WeightWriteOptions {
  /** Extra `userDefinedMetadata` entries (e.g. which model / config this graph is). */
  metadata?: Record<string, unknown>;
  /** Weight groups written elsewhere (paths relative to this graph's folder); their weights are not written again. */
  sharedGroups?: WrittenWeightGroup[];
}

const TF_DTYPE: Record<DType, string> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL' };

function signatureTensor(e: SignatureEntry): SignatureTensor {
  return { name: `${e.name}:0`, dtype: TF_DTYPE[e.dtype], tensorShape: { dim: e.shape.map((d) => ({ size: String(d ?? -1) })) } };
}

function encodeConst(c: ConstValue, quantize: QuantizeMode): Quantized {
  const d = c.read();
  if (c.int8 === true && c.dtype === 'float32') {
    // An int8 weight: one exact byte per value (tf.io.decodeWeights: v * 1 + -128).
    const bytes = new Uint8Array(d.length);
    for (let i = 0; i < d.length; i++) bytes[i] = d[i] + 128;
    return { bytes, quantization: { dtype: 'uint8', min: -128, scale: 1 } };
  }
  if (c.dtype === 'float32') {
    // Only trained parameters are quantized: literal constants (eps, masks, scales) and buffers stay exact.
    return quantizeFloat32(d as Float32Array, c.isParameter ? quantize : 'none');
  }
  return { bytes: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
}

/** Appends bytes to `<prefix>-shardKofN.bin` files of at most `shardBytes` each. */
class ShardWriter {
  private readonly tmpFiles: string[] = [];
  private buf: Uint8Array;
  private fill = 0;
  total = 0;

  constructor(private readonly dir: string, private readonly prefix: string, private readonly shardBytes: number) {
    this.buf = new Uint8Array(Math.min(shardBytes, 1 << 20));
  }

  write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      if (this.fill === this.shardBytes) this.flush();
      const room = this.shardBytes - this.fill;
      const n = Math.min(room, bytes.length - off);
      if (this.fill + n > this.buf.length) {
        const grown = new Uint8Array(Math.min(this.shardBytes, Math.max(this.buf.length * 2, this.fill + n)));
        grown.set(this.buf.subarray(0, this.fill));
        this.buf = grown;
      }
      this.buf.set(bytes.subarray(off, off + n), this.fill);
      this.fill += n;
      off += n;
      this.total += n;
    }
  }

  private flush(): void {
    const tmp = path.join(this.dir, `${this.prefix}-part${this.tmpFiles.length + 1}.tmp`);
    fs.writeFileSync(tmp, this.buf.subarray(0, this.fill));
    this.tmpFiles.push(tmp);
    this.sizes.push(this.fill);
    this.fill = 0;
  }

  readonly sizes: number[] = [];

  /** Writes the last shard and renames the parts to their final `KofN` names. */
  finish(): string[] {
    if (this.fill > 0 || this.tmpFiles.length === 0) this.flush();
    const n = this.tmpFiles.length;
    return this.tmpFiles.map((tmp, i) => {
      const name = `${this.prefix}-shard${i + 1}of${n}.bin`;
      fs.renameSync(tmp, path.join(this.dir, name));
      return name;
    });
  }
}

/** Writes `consts` as one weight group in `dir` (files `<prefix>-shardKofN.bin`); paths are file names in `dir`. */
export function writeWeightGroup(dir: string, prefix: string, consts: ConstValue[], opts: WeightWriteOptions = {}): WrittenWeightGroup {
  const shardBytes = opts.shardBytes ?? SHARD_BYTES;
  if (!(shardBytes > 0)) throw new PolyglotError(`shard size: expected a positive byte count, found ${shardBytes}`);
  fs.mkdirSync(dir, { recursive: true });
  const writer = new ShardWriter(dir, prefix, shardBytes);
  const weights: WeightEntry[] = [];
  for (const c of consts) {
    const q = encodeConst(c, opts.quantize ?? 'none');
    const entry: WeightEntry = { name: c.name, shape: c.shape, dtype: c.dtype };
    if (q.quantization) entry.quantization = q.quantization;
    weights.push(entry);
    writer.write(q.bytes);
  }
  const paths = writer.finish();
  return { paths, weights, sizes: writer.sizes.slice(), bytes: writer.total };
}

/**
 * Manifest order of several weight groups. tfjs (4.22) loads all shard files of a model into one
 * CompositeArrayBuffer, which assumes "uniform" shards when every file but the last has the size
 * of the first, and then finds a byte's file by division: wrong if the last file is larger than
 * the first. Putting the group whose first (largest) shard is biggest first makes that case
 * impossible; decoding walks the manifest in order, so group order is otherwise free.
 */
export function orderGroups<G extends { sizes: number[] }>(groups: G[]): G[] {
  const ordered = groups.filter((g) => g.sizes.length > 0).sort((a, b) => Math.max(...b.sizes) - Math.max(...a.sizes));
  const files = ordered.flatMap((g) => g.sizes);
  const uniform = files.slice(0, -1).every((n) => n === files[0]);
  if (uniform && files.length > 1 && files[files.length - 1] > files[0]) throw new PolyglotError('graph export: internal error: weight shard order would break tfjs shard lookup');
  return ordered;
}

/** model.json content for a graph and its weight groups. */
export function graphModelJson(graph: RecordedGraph, weightsManifest: WeightGroup[], metadata: Record<string, unknown> = {}): GraphModelJson {
  return {
    format: 'graph-model',
    generatedBy: GENERATED_BY,
    convertedBy: `${GENERATED_BY} graph exporter`,
    modelTopology: { node: graph.nodes, library: {}, versions: { producer: 1482 } },
    signature: {
      inputs: Object.fromEntries(graph.inputs.map((e) => [e.name, signatureTensor(e)])),
      outputs: Object.fromEntries(graph.outputs.map((e) => [e.name, signatureTensor(e)])),
    },
    // predict() returns a {name: tensor} map in this order (GraphModel.addStructuredOutputNames).
    userDefinedMetadata: { ...metadata, structuredOutputKeys: graph.outputs.map((o) => o.name) },
    weightsManifest,
  };
}

/**
 * Writes model.json + the graph's own weight shards into `dir` (created if missing; must not
 * already hold a model.json). Consts held by `sharedGroups` are referenced, not written.
 * Returns the bytes written here (shared groups not counted).
 */
export function writeGraphModel(dir: string, graph: RecordedGraph, opts: GraphModelOptions = {}): { files: string[]; bytes: number; modelJson: GraphModelJson } {
  fs.mkdirSync(dir, { recursive: true });
  const modelPath = path.join(dir, 'model.json');
  if (fs.existsSync(modelPath)) throw new PolyglotError(`${modelPath}: already exists; refusing to overwrite`);
  const shared = opts.sharedGroups ?? [];
  const sharedNames = new Set(shared.flatMap((g) => g.weights.map((w) => w.name)));
  const needed = new Set(graph.consts.map((c) => c.name));
  for (const g of shared) {
    if (g.weights.every((w) => !needed.has(w.name))) throw new PolyglotError(`graph export: shared weight group ${g.paths[0]} holds nothing this graph uses`);
  }
  const local = graph.consts.filter((c) => !sharedNames.has(c.name));
  const group = writeWeightGroup(dir, 'group1', local, opts);
  const modelJson = graphModelJson(graph, orderGroups([...shared, group]).map((g) => ({ paths: g.paths, weights: g.weights })), opts.metadata);
  const json = JSON.stringify(modelJson);
  fs.writeFileSync(modelPath, json);
  return { files: [...group.paths, 'model.json'], bytes: group.bytes + Buffer.byteLength(json), modelJson };
}
