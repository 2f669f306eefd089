/**
 * Writes a Hugging Face model directory: config.json (with torch_dtype), model.safetensors
 * or model-0000K-of-0000N.safetensors shards + model.safetensors.index.json, and extra files
 * (tokenizer, generation config). The whole directory is built in a temp sibling and renamed
 * into place, so readers never see a half-written model and an existing one is replaced
 * only with `overwrite`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { fsyncDir, tempSiblingPath, writeFileAtomic, writeAll } from './atomic.js';
import { dtypeByteSize, TORCH_FLOAT_TO_SAFETENSORS, type SafetensorsDType, type TorchFloatName } from './dtypes.js';
import { shapeSize, writeSafetensors } from './safetensors-writer.js';
import { copyModelFile, findModelFile } from './model-file.js';

export type HfTensorData = Float32Array | Int32Array | BigInt64Array | Int8Array;

export interface HfTensorToWrite {
  /** HF state-dict name, HF layout (linear weights [out, in]). */
  name: string;
  shape: number[];
  /** Float32Array is stored in the chosen float dtype; Int32Array as I32, BigInt64Array as I64, Int8Array as I8. A function is called when the tensor is written (one tensor resident at a time). */
  data: HfTensorData | (() => HfTensorData);
  /** What lazy `data` will be (default 'float'); inferred from eager data. 'float32': a Float32Array kept F32 whatever the dtype (int8 scales). */
  kind?: 'float' | 'float32' | 'int8' | 'int32' | 'int64';
}

export interface HfExtraFile {
  /** File name inside the model directory (no folders). */
  name: string;
  contents?: string | Uint8Array;
  /** Copied from here when `contents` is not given. */
  sourcePath?: string;
}

export interface HfModelToWrite {
  config: Record<string, unknown>;
  tensors: HfTensorToWrite[];
  extraFiles?: HfExtraFile[];
}

export interface HfWriteOptions {
  dtype: TorchFloatName;
  /** Split into shards of at most this many bytes (HF's max_shard_size); one file when absent. */
  maxShardBytes?: number;
  /** Replace an existing directory. */
  overwrite?: boolean;
}

export interface HfWriteResult {
  dir: string;
  /** Weight files written (basenames). */
  weightFiles: string[];
  /** Bytes of tensor data (index "total_size"). */
  totalSize: number;
}

const RESERVED = new Set(['config.json', 'model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json']);

type Kind = NonNullable<HfTensorToWrite['kind']>;

function kindOf(data: HfTensorData): Kind {
  return data instanceof Float32Array ? 'float' : data instanceof Int32Array ? 'int32' : data instanceof Int8Array ? 'int8' : 'int64';
}

/** The declared kind of a tensor (eager data: from the data, unless it declares float32). */
function declaredKind(t: HfTensorToWrite): Kind {
  if (typeof t.data === 'function' || t.kind === 'float32') return t.kind ?? 'float';
  return kindOf(t.data);
}

/** Target dtype of one tensor, known without materialising lazy data. */
function fileDType(t: HfTensorToWrite, float: SafetensorsDType): SafetensorsDType {
  const kind = declaredKind(t);
  return kind === 'float' ? float : kind === 'float32' ? 'F32' : kind === 'int8' ? 'I8' : kind === 'int32' ? 'I32' : 'I64';
}

/** Groups tensors into shards in order, like huggingface_hub's split_torch_state_dict_into_shards. */
export function planShards(sizes: number[], maxShardBytes?: number): number[][] {
  const shards: number[][] = [];
  let cur: number[] = [];
  let curBytes = 0;
  sizes.forEach((bytes, i) => {
    if (maxShardBytes !== undefined && cur.length > 0 && curBytes + bytes > maxShardBytes) {
      shards.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(i);
    curBytes += bytes;
  });
  if (cur.length > 0 || shards.length === 0) shards.push(cur);
  return shards;
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

function writeTextAtomic(file: string, text: string): void {
  writeFileAtomic(file, (fd) => writeAll(fd, Buffer.from(text, 'utf8')));
}

export function writeHfModelDir(outDir: string, model: HfModelToWrite, opts: HfWriteOptions): HfWriteResult {
  const float = TORCH_FLOAT_TO_SAFETENSORS[opts.dtype];
  if (!float) throw new PolyglotError(`dtype: expected float32, float16 or bfloat16, found ${JSON.stringify(opts.dtype)}`);
  if (opts.maxShardBytes !== undefined && !(Number.isSafeInteger(opts.maxShardBytes) && opts.maxShardBytes > 0)) {
    throw new PolyglotError(`maxShardBytes: expected a positive integer, found ${opts.maxShardBytes}`);
  }
  const out = path.resolve(outDir);
  if (fs.existsSync(out) && !opts.overwrite) throw new PolyglotError(`${outDir}: already exists (pass overwrite / --force to replace it)`);
  const parent = path.dirname(out);
  if (!fs.existsSync(parent)) throw new PolyglotError(`${outDir}: parent folder ${parent} does not exist`);

  // Validate everything we can before writing a byte.
  const names = new Set<string>();
  const sizes = model.tensors.map((t) => {
    if (names.has(t.name)) throw new PolyglotError(`tensor "${t.name}" is given twice`);
    names.add(t.name);
    return shapeSize(t.shape, `tensor "${t.name}"`) * dtypeByteSize(fileDType(t, float));
  });
  for (const f of model.extraFiles ?? []) {
    if (!f.name || f.name !== path.basename(f.name) || f.name.startsWith('.')) throw new PolyglotError(`extra file "${f.name}": expected a plain file name`);
    if (RESERVED.has(f.name) || /\.safetensors$/.test(f.name)) throw new PolyglotError(`extra file "${f.name}": that name is written by the model writer itself`);
    if (f.contents === undefined && (f.sourcePath === undefined || findModelFile(path.dirname(f.sourcePath), path.basename(f.sourcePath)) === undefined)) {
      throw new PolyglotError(`extra file "${f.name}": source ${f.sourcePath ?? '(none)'} does not exist`);
    }
  }

  const shards = planShards(sizes, opts.maxShardBytes);
  const shardName = (k: number): string =>
    shards.length === 1 ? 'model.safetensors' : `model-${String(k + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;

  const tmp = tempSiblingPath(out);
  fs.mkdirSync(tmp);
  try {
    const weightMap: Record<string, string> = {};
    let totalSize = 0;
    shards.forEach((idx, k) => {
      const file = shardName(k);
      const items = idx.map((i) => {
        const t = model.tensors[i];
        const dtype = fileDType(t, float);
        weightMap[t.name] = file;
        totalSize += sizes[i];
        const declared = declaredKind(t);
        const expected = declared === 'float32' ? 'float' : declared;
        const get = t.data;
        // Lazy data is produced while the file is written, so only one tensor is resident.
        const data =
          typeof get === 'function'
            ? (): HfTensorData => {
                const d = get();
                if (kindOf(d) !== expected) throw new PolyglotError(`tensor "${t.name}": declared ${expected} data, got ${kindOf(d)}`);
                return d;
              }
            : get;
        return { name: t.name, dtype, shape: t.shape, data };
      });
      // HF save_pretrained tags safetensors files with format "pt".
      writeSafetensors(path.join(tmp, file), items, { format: 'pt' });
    });
    if (shards.length > 1) {
      const index = { metadata: { total_size: totalSize }, weight_map: sortKeys(weightMap) };
      writeTextAtomic(path.join(tmp, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
    }
    const config = sortKeys({ ...model.config, torch_dtype: opts.dtype });
    writeTextAtomic(path.join(tmp, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    for (const f of model.extraFiles ?? []) {
      const dest = path.join(tmp, f.name);
      if (f.contents !== undefined) fs.writeFileSync(dest, f.contents);
      else {
        copyModelFile(f.sourcePath!, dest);
        fs.chmodSync(dest, 0o644); // sources may be read-only (hub cache blobs); the output is the user's
      }
    }
    fsyncDir(tmp);
    if (fs.existsSync(out)) {
      // overwrite: move the old directory aside first so a failure never loses both.
      const old = tempSiblingPath(out, 'old');
      fs.renameSync(out, old);
      fs.renameSync(tmp, out);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, out);
    }
    fsyncDir(parent);
    return { dir: out, weightFiles: shards.map((_, k) => shardName(k)), totalSize };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (e instanceof PolyglotError) throw e;
    throw new PolyglotError(`${outDir}: cannot write model directory (${(e as Error).message})`);
  }
}
