/**
 * The one model loader. Every `fromPretrained` / `fromCheckpoint` (and through them the CLI,
 * training, export, verify, generation and pipeline()) builds a model here:
 *
 *   resolve id or dir (convert/open-checkpoint.ts `resolvePretrained`) -> open the checkpoint
 *   -> pick the format by config.json model_type -> parse the config (+ overrides)
 *   -> format.checkShapes (config against tensor shapes, nothing allocated yet)
 *   -> construct the model with every variable created from its checkpoint tensor
 *      (layers/base.ts `withInitialValues`: one copy of each weight, no zeros first)
 *   -> format.weights.check (missing / unexpected / mis-shaped tensors) -> generation_config.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { NamedParameter } from '../core/trainable.js';
import { readJsonFile, type HfCheckpoint, type TensorSource } from '../convert/checkpoint.js';
import { openPretrained, type HubOptions } from '../convert/open-checkpoint.js';
import { withInitialValues, type InitialValueProvider } from '../layers/base.js';
import { formatFor, type CheckpointFormat, type WeightNaming } from './checkpoint-format.js';
import { findModelFile } from '../convert/model-file.js';
import { BYTES_PER_GB, ExpertStore, float32ParameterBytes, withExpertStore } from '../layers/moe/expert-store.js';

export interface PretrainedOptions extends HubOptions {
  /** config.json fields (HF names) replacing the file's, e.g. `{ dropout: 0 }`. */
  configOverrides?: Record<string, unknown>;
  /**
   * Weight budget in GB (1e9 bytes; `--max-memory`): an MoE keeps its dense part resident and
   * reads experts from the checkpoint on demand into an LRU cache of the rest
   * (layers/moe/expert-store.ts); a model under it that cannot fit gets a one-line error with its minimum.
   */
  maxMemoryGB?: number;
}

/** generation_config.json as found beside the weights (parsed by generation/generation-config.ts when used). */
export interface GenerationConfigFile {
  source: string;
  json: unknown;
}

/** What the loader needs of a model class's instances. */
export interface PretrainedModel {
  namedParameters(): NamedParameter[];
  dispose(): void;
  /** The model directory's generation_config.json; generateText / translate start from it (HF generate()). */
  generationConfig?: GenerationConfigFile;
  /** Set when loaded with `maxMemoryGB` and the model has experts to offload. */
  expertStore?: ExpertStore;
}

/** A model class as the loader sees it: its formats and its constructor. */
export interface PretrainedClass<C, M extends PretrainedModel> {
  readonly formats: readonly CheckpointFormat<C>[];
  new (config: C): M;
}

export function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/** The checkpoint's shape of a parameter stored as `shape` (HF keeps Linear weights [out, in]). */
export function hfShape(shape: readonly number[], transposed: boolean): number[] {
  return transposed ? [...shape].reverse() : [...shape];
}

/** One checkpoint tensor as the stored float32 tensor (Linear weights transposed to [in, out]). */
function readParameter(tensors: TensorSource, ckName: string, shape: readonly number[], transposed: boolean, source: string): tf.Tensor {
  const host = tensors.read(ckName);
  const want = hfShape(shape, transposed);
  if (shapeStr(host.shape) !== shapeStr(want)) {
    throw new PolyglotError(`${source}: tensor "${ckName}": expected shape ${shapeStr(want)}, found ${shapeStr(host.shape)}`);
  }
  if (!(host.data instanceof Float32Array)) {
    throw new PolyglotError(`${source}: tensor "${ckName}": expected a floating-point dtype, found ${host.dtype}`);
  }
  const data = host.data;
  return tf.tidy(() => {
    const t = tf.tensor(data, host.shape, 'float32');
    return transposed ? tf.transpose(t) : t;
  });
}

/** Float dtypes a checkpoint tensor may have for a float32 parameter. */
export const FLOAT_DTYPES: readonly string[] = ['F64', 'F32', 'F16', 'BF16'];

/**
 * A `withInitialValues` provider reading each parameter from the checkpoint, when present as a
 * float tensor of the right shape (the format's `check` reports everything else afterwards).
 */
export function checkpointInitialValues<C>(naming: WeightNaming<C>, tensors: TensorSource, config: C, source: string): InitialValueProvider {
  return (name, shape, transposed) => {
    const ckName = naming.checkpointName(name, tensors, config);
    if (ckName === undefined || !tensors.has(ckName)) return undefined;
    const meta = tensors.meta(ckName);
    if (shapeStr(meta.shape) !== shapeStr(hfShape(shape, transposed)) || !FLOAT_DTYPES.includes(meta.dtype)) return undefined;
    return readParameter(tensors, ckName, shape, transposed, source);
  };
}

/** Overwrites an existing model's parameters from a checkpoint (checked first; tests and tools). */
export function loadWeightsInto<C>(params: readonly NamedParameter[], naming: WeightNaming<C>, tensors: TensorSource, config: C, source: string): void {
  naming.check(params, tensors, source, config);
  for (const p of params) {
    const ckName = naming.checkpointName(p.name, tensors, config) ?? p.name;
    const value = readParameter(tensors, ckName, p.variable.shape as number[], p.transposed, source);
    p.variable.write(value);
    value.dispose();
  }
}

/** The model directory's generation_config.json, if it has one (read as JSON; parsed where used). */
function generationConfigOf(dir: string): GenerationConfigFile | undefined {
  const file = findModelFile(dir, 'generation_config.json'); // inside the model folder, a regular file
  return file !== undefined ? { source: file, json: readJsonFile(file) } : undefined;
}

/** Builds a `cls` model from an opened checkpoint (the synchronous core of every loader). */
export function modelFromCheckpoint<C, M extends PretrainedModel>(
  cls: PretrainedClass<C, M>,
  ck: HfCheckpoint,
  options: Pick<PretrainedOptions, 'configOverrides' | 'maxMemoryGB'> = {},
  purpose?: string,
): M {
  const source = `${ck.dir}/config.json`;
  const format = formatFor(cls.formats, ck.config, source, purpose);
  const config = format.parseConfig(ck.config, source, options.configOverrides);
  // The hostile-checkpoint guard: shapes the config implies against the file's headers, before any allocation.
  format.checkShapes?.(config, ck.tensors, ck.dir);
  const build = () => withInitialValues(checkpointInitialValues(format.weights, ck.tensors, config, ck.dir), () => new cls(config));
  const store =
    options.maxMemoryGB === undefined
      ? undefined
      : new ExpertStore({ tensors: ck.tensors, checkpointName: (n) => format.weights.checkpointName(n, ck.tensors, config), budgetBytes: options.maxMemoryGB * BYTES_PER_GB, source: ck.dir });
  const model = store ? withExpertStore(store, build) : build();
  try {
    format.weights.check(model.namedParameters(), ck.tensors, ck.dir, config);
    model.generationConfig = generationConfigOf(ck.dir);
    if (store) {
      // Resident weights: every parameter (float32 variables); --weights changes it (layers/weight-precision.ts).
      store.setResident('float32', float32ParameterBytes(model.namedParameters()));
      if (store.layerCount > 0) model.expertStore = store;
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** `fromPretrained`: a model directory or hub model id (see `resolvePretrained`) as a `cls` model. */
export async function modelFromPretrained<C, M extends PretrainedModel>(cls: PretrainedClass<C, M>, idOrDir: string, options: PretrainedOptions = {}): Promise<M> {
  return modelFromCheckpoint(cls, await openPretrained(idOrDir, options), options);
}
