/**
 * `polyglot convert` logic: any checkpoint layout (torch .bin, sharded, safetensors) ->
 * a safetensors HF model directory, optionally in another float dtype. Tied aliases of
 * a .bin (lm_head.weight sharing the embedding storage) are written once, as HF's
 * save_pretrained does (safetensors cannot share storage); tokenizer and other side files
 * are copied.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { openCheckpoint } from './open-checkpoint.js';
import { isCopyableModelFile } from './model-file.js';
import { writeHfModelDir, type HfExtraFile, type HfTensorData, type HfTensorToWrite, type HfWriteResult } from './hf-writer.js';
import { isFloatDType, type TorchFloatName } from './dtypes.js';
import type { Int8Quantized } from '../backend/int8-weights.js';
import { int8ScaleName } from './quantized-source.js';
import type { HfCheckpoint } from './checkpoint.js';

export interface ConvertOptions {
  /** Float dtype of the output; default: the checkpoint's stored float dtype (float64 -> float32). */
  dtype?: TorchFloatName;
  /** Replace an existing output directory. */
  force?: boolean;
  /** Shard the output above this many bytes. */
  maxShardBytes?: number;
  /**
   * Linear weights to store as int8 (by checkpoint name; docs/QUANTIZATION.md): written as
   * `<name>` I8 [out, in] + `<name>_scale` F32 [out] instead of the stored float tensor.
   */
  int8Weights?: ReadonlyMap<string, Int8Quantized>;
  /** config.json fields added to the source's (e.g. `quantization_config`). */
  configFields?: Record<string, unknown>;
}

export interface ConvertResult extends HfWriteResult {
  dtype: TorchFloatName;
  tensorCount: number;
  /** Aliases not written (tied to the named tensor). */
  droppedAliases: { name: string; of: string }[];
  copiedFiles: string[];
}

/** Files of a model directory that are weights or written by the writer, hence not copied. */
const NOT_COPIED = /^(config\.json|model\.safetensors\.index\.json|pytorch_model\.bin\.index\.json)$|\.(safetensors|bin|pt|pth|ckpt|h5|msgpack|onnx)$/;

/** "2GB" / "500MB" / "1.5GiB" / "1000" -> bytes (decimal units as HF's max_shard_size, binary with "i"). */
export function parseByteSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*$/i.exec(s);
  if (!m) throw new PolyglotError(`--max-shard-size: expected a size like 2GB or 500MiB, found ${JSON.stringify(s)}`);
  const power = ' KMGT'.indexOf((m[2] || ' ').toUpperCase());
  const bytes = Math.floor(Number(m[1]) * (m[3] ? 1024 : 1000) ** power);
  if (!(bytes > 0) || !Number.isSafeInteger(bytes)) throw new PolyglotError(`--max-shard-size: ${JSON.stringify(s)} is not a usable size`);
  return bytes;
}

/** The float dtype a checkpoint is stored in (the most common float dtype among its tensors). */
export function storedFloatDType(ck: HfCheckpoint): TorchFloatName {
  const counts: Record<string, number> = {};
  for (const n of ck.tensors.names()) {
    const d = ck.tensors.meta(n).dtype;
    counts[d] = (counts[d] ?? 0) + 1;
  }
  const best = (['F32', 'F16', 'BF16'] as const).reduce((a, b) => ((counts[b] ?? 0) > (counts[a] ?? 0) ? b : a), 'F32' as 'F32' | 'F16' | 'BF16');
  return best === 'F16' ? 'float16' : best === 'BF16' ? 'bfloat16' : 'float32';
}

export function convertCheckpoint(input: string, outDir: string, opts: ConvertOptions = {}): ConvertResult {
  const ck = openCheckpoint(input);
  const dtype = opts.dtype ?? storedFloatDType(ck);
  // Only drop an alias when the config ties the weights (HF default: tie_word_embeddings true);
  // otherwise the loader would expect both names, so both are written.
  const tied = ck.config.tie_word_embeddings !== false;
  const droppedAliases: { name: string; of: string }[] = [];
  const tensors: HfTensorToWrite[] = [];
  const int8 = opts.int8Weights ?? new Map<string, Int8Quantized>();
  // An int8 weight's scale stays F32 whatever the float dtype (a stored one is rewritten with its weight).
  const isScale = (name: string): boolean => name.endsWith('_scale') && ck.tensors.has(name.slice(0, -'_scale'.length)) && ck.tensors.meta(name.slice(0, -'_scale'.length)).dtype === 'I8';
  for (const name of ck.tensors.names()) {
    const of = ck.tensors.aliasOf?.(name);
    if (of !== undefined && tied) {
      droppedAliases.push({ name, of });
      continue;
    }
    const w = int8.get(name);
    if (w !== undefined) {
      tensors.push({ name, shape: [w.outFeatures, w.inFeatures], data: w.q });
      tensors.push({ name: int8ScaleName(name), shape: [w.outFeatures], data: w.scale, kind: 'float32' });
      continue;
    }
    const meta = ck.tensors.meta(name);
    if (isScale(name) && int8.has(name.slice(0, -'_scale'.length))) continue;
    const kind = isScale(name) ? 'float32' : isFloatDType(meta.dtype) ? 'float' : meta.dtype === 'I8' ? 'int8' : meta.dtype === 'I64' || meta.dtype === 'U64' ? 'int64' : 'int32';
    tensors.push({
      name,
      shape: meta.shape,
      kind,
      data: (): HfTensorData => {
        const t = ck.tensors.read(name);
        if (t.data instanceof Uint8Array) throw new PolyglotError(`${meta.file}: tensor "${name}" has raw ${t.dtype} data that cannot be converted`);
        return kind === 'int8' ? Int8Array.from(t.data as Int32Array) : t.data;
      },
    });
  }
  const srcDir = path.resolve(ck.dir);
  const extraFiles: HfExtraFile[] = fs
    .readdirSync(srcDir)
    // Only regular files inside the folder (or hub cache links): a link elsewhere is never followed.
    .filter((f) => !f.startsWith('.') && !NOT_COPIED.test(f) && isCopyableModelFile(srcDir, f))
    .sort()
    .map((f) => ({ name: f, sourcePath: path.join(srcDir, f) }));
  const res = writeHfModelDir(outDir, { config: { ...ck.config, ...opts.configFields }, tensors, extraFiles }, { dtype, overwrite: opts.force, maxShardBytes: opts.maxShardBytes });
  return { ...res, dtype, tensorCount: tensors.length, droppedAliases, copiedFiles: extraFiles.map((f) => f.name) };
}
