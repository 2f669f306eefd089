/**
 * Serialises a recorded graph as a TensorFlow.js GraphModel folder, the layout
 * tfjs-converter produces and `tf.loadGraphModel` reads:
 *   model.json  {format: "graph-model", generatedBy, convertedBy,
 *                modelTopology: {node, library, versions}, signature, userDefinedMetadata,
 *                weightsManifest: [{paths, weights: [{name, shape, dtype, quantization?}]}]}
 *   group1-shardKofN.bin   the weight bytes in manifest order, cut into 4 MB shards.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import type { DType } from '../ops/ops.js';
import type { NodeDef, RecordedGraph, SignatureEntry } from './graph-ops.js';
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
  weightsManifest: { paths: string[]; weights: WeightEntry[] }[];
}

export interface GraphModelArtifacts {
  modelJson: GraphModelJson;
  /** Shard file names, in manifest order. */
  shardFiles: string[];
  /** The bytes of shard i, assembled on demand (only one shard is built at a time). */
  shard(i: number): Uint8Array;
  /** Total bytes of weight data (all shards). */
  weightBytes: number;
}

export interface GraphModelOptions {
  quantize?: QuantizeMode;
  shardBytes?: number;
  /** Extra `userDefinedMetadata` entries (e.g. which model / config this graph is). */
  metadata?: Record<string, unknown>;
}

const TF_DTYPE: Record<DType, string> = { float32: 'DT_FLOAT', int32: 'DT_INT32', bool: 'DT_BOOL' };

function signatureTensor(e: SignatureEntry): SignatureTensor {
  return { name: `${e.name}:0`, dtype: TF_DTYPE[e.dtype], tensorShape: { dim: e.shape.map((d) => ({ size: String(d ?? -1) })) } };
}

/** Builds model.json and the shard bytes in memory. */
export function serializeGraphModel(graph: RecordedGraph, opts: GraphModelOptions = {}): GraphModelArtifacts {
  const quantize = opts.quantize ?? 'none';
  const shardBytes = opts.shardBytes ?? SHARD_BYTES;
  if (!(shardBytes > 0)) throw new PolyglotError(`shard size: expected a positive byte count, found ${shardBytes}`);
  const weights: WeightEntry[] = [];
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const c of graph.consts) {
    let q: Quantized;
    if (c.dtype === 'float32') {
      // Only trained parameters are quantized: literal constants (eps, -inf masks, scales) stay exact.
      q = quantizeFloat32(c.data as Float32Array, c.isParameter ? quantize : 'none');
    } else {
      const d = c.data;
      q = { bytes: new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength)) };
    }
    const entry: WeightEntry = { name: c.name, shape: c.shape, dtype: c.dtype };
    if (q.quantization) entry.quantization = q.quantization;
    weights.push(entry);
    chunks.push(q.bytes);
    total += q.bytes.length;
  }
  const nShards = Math.max(1, Math.ceil(total / shardBytes));
  const shardFiles = Array.from({ length: nShards }, (_, i) => `group1-shard${i + 1}of${nShards}.bin`);
  // The loader concatenates the shards, so a weight may straddle two of them.
  const shard = (i: number): Uint8Array => {
    const begin = i * shardBytes;
    const end = Math.min(total, begin + shardBytes);
    const out = new Uint8Array(end - begin);
    let off = 0;
    for (const ch of chunks) {
      const a = Math.max(begin, off);
      const b = Math.min(end, off + ch.length);
      if (a < b) out.set(ch.subarray(a - off, b - off), a - begin);
      off += ch.length;
      if (off >= end) break;
    }
    return out;
  };
  const modelJson: GraphModelJson = {
    format: 'graph-model',
    generatedBy: GENERATED_BY,
    convertedBy: `${GENERATED_BY} graph exporter`,
    modelTopology: { node: graph.nodes, library: {}, versions: { producer: 1482 } },
    signature: {
      inputs: Object.fromEntries(graph.inputs.map((e) => [e.name, signatureTensor(e)])),
      outputs: Object.fromEntries(graph.outputs.map((e) => [e.name, signatureTensor(e)])),
    },
    // predict() returns a {name: tensor} map in this order (GraphModel.addStructuredOutputNames).
    userDefinedMetadata: { ...(opts.metadata ?? {}), structuredOutputKeys: graph.outputs.map((o) => o.name) },
    weightsManifest: [{ paths: shardFiles, weights }],
  };
  return { modelJson, shardFiles, shard, weightBytes: total };
}

/** Writes model.json + shards into `dir` (created if missing; must not already hold a model.json). */
export function writeGraphModelFiles(dir: string, artifacts: GraphModelArtifacts): { files: string[]; bytes: number } {
  fs.mkdirSync(dir, { recursive: true });
  const modelPath = path.join(dir, 'model.json');
  if (fs.existsSync(modelPath)) throw new PolyglotError(`${modelPath}: already exists; refusing to overwrite`);
  const files: string[] = [];
  let bytes = 0;
  artifacts.shardFiles.forEach((file, i) => {
    const data = artifacts.shard(i);
    fs.writeFileSync(path.join(dir, file), data);
    files.push(file);
    bytes += data.length;
  });
  const json = JSON.stringify(artifacts.modelJson);
  fs.writeFileSync(modelPath, json);
  files.push('model.json');
  bytes += Buffer.byteLength(json);
  return { files, bytes };
}
