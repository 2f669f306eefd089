/**
 * A Hugging Face model directory opened for reading: its config.json and a lazy
 * name -> tensor source over whichever weight layout it uses.
 */
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import type { SafetensorsDType } from './dtypes.js';
import { SafetensorsFile, type HostTensor } from './safetensors.js';
import { checkJsonNesting } from './json-nesting.js';
import { MAX_JSON_BYTES, checkPlainFileName, findModelFile, modelFile, readRegularFile } from './model-file.js';

export interface TensorMeta {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** The file holding it. */
  file: string;
}

/** Lazy access to a state dict: tensors are decoded one at a time, on demand. */
export interface TensorSource {
  names(): string[];
  has(name: string): boolean;
  meta(name: string): TensorMeta;
  /** Reads one tensor (floats upcast to float32). */
  read(name: string): HostTensor;
  /**
   * The tensor's stored little-endian bytes, not decoded (a BF16 / F16 weight kept as 16-bit;
   * layers/linear.ts). Absent where a format cannot give them (callers then `read`).
   */
  readBytes?(name: string): Uint8Array;
  /**
   * For formats that can share storage (torch .bin: tied lm_head / embeddings), the earlier
   * name this tensor is an exact alias of. Absent or undefined: not an alias.
   */
  aliasOf?(name: string): string | undefined;
}

export interface HfCheckpoint {
  /** The resolved model directory. */
  dir: string;
  /** config.json as parsed JSON (validated by the model's config parser). */
  config: Record<string, unknown>;
  tensors: TensorSource;
  /** Weight files, for `polyglot info` (size on disk). */
  files: string[];
}

/** A JSON file (a regular file of at most MAX_JSON_BYTES). */
export function readJsonFile(file: string): unknown {
  const text = readRegularFile(file, MAX_JSON_BYTES, 'JSON file').toString('utf8');
  checkJsonNesting(text, file);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new PolyglotError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** One weight file of a sharded checkpoint, as `ShardedSource` needs it. */
export interface TensorShard {
  readonly path: string;
  names(): string[];
  info(name: string): { dtype: SafetensorsDType; shape: number[] };
  read(name: string): HostTensor;
  /** Stored bytes of one tensor (safetensors). */
  readBytes?(name: string): Uint8Array;
}

/**
 * A TensorSource over several weight files (one, or the shards of an HF `*.index.json`): each name
 * in exactly one file, and the index's weight_map must agree with where it really is.
 */
export class ShardedSource<F extends TensorShard> implements TensorSource {
  private readonly byName = new Map<string, F>();

  constructor(files: F[], weightMap?: Record<string, string>, indexPath?: string) {
    for (const f of files) {
      for (const name of f.names()) {
        const other = this.byName.get(name);
        if (other) throw new PolyglotError(`tensor "${name}" appears in both ${other.path} and ${f.path}`);
        this.byName.set(name, f);
      }
    }
    if (weightMap) {
      for (const [name, shard] of Object.entries(weightMap)) {
        const f = this.byName.get(name);
        if (!f) throw new PolyglotError(`${indexPath}: weight_map names "${name}" in ${shard}, but that shard has no such tensor`);
        if (path.basename(f.path) !== shard) {
          throw new PolyglotError(`${indexPath}: weight_map puts "${name}" in ${shard}, but it is in ${path.basename(f.path)}`);
        }
      }
    }
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
  has(name: string): boolean {
    return this.byName.has(name);
  }
  meta(name: string): TensorMeta {
    const f = this.file(name);
    const i = f.info(name);
    // A copy: callers must not be able to change the file's header.
    return { name, dtype: i.dtype, shape: i.shape.slice(), file: f.path };
  }
  read(name: string): HostTensor {
    return this.file(name).read(name);
  }
  readBytes(name: string): Uint8Array {
    const f = this.file(name);
    // Formats without raw access (torch .bin) decode and re-encode nothing: the caller reads instead.
    if (f.readBytes === undefined) throw new PolyglotError(`${f.path}: tensor "${name}": stored bytes are not readable from this format`);
    return f.readBytes(name);
  }
  /** Whether `readBytes` works for this tensor. */
  hasBytes(name: string): boolean {
    return this.file(name).readBytes !== undefined;
  }
  private file(name: string): F {
    const f = this.byName.get(name);
    if (!f) throw new PolyglotError(`checkpoint has no tensor named "${name}"`);
    return f;
  }
}

/** An index's weight_map: tensor name -> plain file name of a shard in the model folder. */
export function checkWeightMap(weightMap: unknown, index: string): Record<string, string> {
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new PolyglotError(`${index}: expected a "weight_map" object of tensor name -> shard file`);
  }
  for (const [k, v] of Object.entries(weightMap)) checkPlainFileName(v, `${index}: weight_map["${k}"]`);
  return weightMap as Record<string, string>;
}

/** A TensorSource over several safetensors files (one, or the shards of an index). */
export class SafetensorsSource extends ShardedSource<SafetensorsFile> {}

/**
 * Opens a model directory. Layouts: model.safetensors; model.safetensors.index.json + shards.
 * (pytorch_model.bin and the HF hub cache are added in convert/open-checkpoint.ts.)
 */
export function openSafetensorsDir(dir: string): HfCheckpoint | undefined {
  const single = findModelFile(dir, 'model.safetensors');
  const index = findModelFile(dir, 'model.safetensors.index.json');
  const configPath = modelFile(dir, 'config.json', 'config.json');
  if (index) {
    const weightMap = checkWeightMap((readJsonFile(index) as { weight_map?: unknown } | null)?.weight_map, index);
    const shards = [...new Set(Object.values(weightMap))];
    const files = shards.map((s) => SafetensorsFile.open(modelFile(dir, s, `shard named by ${index}`)));
    return {
      dir,
      config: readJsonFile(configPath) as Record<string, unknown>,
      tensors: new SafetensorsSource(files, weightMap, index),
      files: files.map((f) => f.path),
    };
  }
  if (single) {
    const f = SafetensorsFile.open(single);
    return { dir, config: readJsonFile(configPath) as Record<string, unknown>, tensors: new SafetensorsSource([f]), files: [single] };
  }
  return undefined;
}
