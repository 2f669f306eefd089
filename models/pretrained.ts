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
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { NamedParameter } from '../core/trainable.js';
import { readJsonFile, type HfCheckpoint, type TensorSource } from '../convert/checkpoint.js';
import { openPretrained, type HubOptions } from '../convert/open-checkpoint.js';
import { withInitialValues, type InitialValueProvider } from '../layers/base.js';
import { withInt8Weights, type Int8WeightProvider } from '../layers/linear.js';
import { applyWeightPrecision, precisionReportOf, isInt8Linear, type PrecisionReport, type WeightPrecision, type WeightsChoice } from '../layers/weight-precision.js';
import { Int8Linear, nativeInt8Available } from '../backend/native-int8.js';
import { quantizeInt8Rows, type Int8Quantized } from '../backend/int8-weights.js';
import { roundTo16InPlace, w16FromRows, w16FromStored, w16LookupTable, w16StoredDtype, type W16Dtype, type W16Quantized } from '../backend/w16-weights.js';
import { W16Linear, nativeW16Available } from '../backend/native-w16.js';
import { withNativeTables, type NativeTable, type NativeTableProvider } from '../layers/scaled-embedding.js';
import { Int8AwareSource } from '../convert/quantized-source.js';
import { isFloatDType } from '../convert/dtypes.js';
import { formatFor, type CheckpointFormat, type WeightNaming } from './checkpoint-format.js';
import { findModelFile } from '../convert/model-file.js';
import { BYTES_PER_GB, ExpertStore, float32ParameterBytes, withExpertStore } from '../layers/moe/expert-store.js';

export interface PretrainedOptions extends HubOptions {
  /** config.json fields (HF names) replacing the file's, e.g. `{ dropout: 0 }`. */
  configOverrides?: Record<string, unknown>;
  /**
   * Precision of the linear weights (layers/weight-precision.ts). Default: as stored (a
   * `polyglot quantize` checkpoint's int8 weights stay int8, floats load as float32).
   * int8: quantized tensor by tensor while loading, straight into native memory: no float32
   * copy of a linear weight is ever made on the wasm heap.
   */
  weights?: WeightsChoice;
  /** Called with every linear weight loaded as int8 (checkpoint name, weight); `polyglot quantize` records them. */
  onInt8?: (checkpointName: string, w: Int8Quantized) => void;
  /**
   * Weight budget in GB (1e9 bytes; `--max-memory`): an MoE keeps its dense part resident and
   * reads experts from the checkpoint on demand into an LRU cache of the rest
   * (layers/moe/expert-store.ts); a model under it that cannot fit gets a one-line error with its minimum.
   */
  maxMemoryGB?: number;
  /**
   * The model will only run inference (generation, translation): with int8 / 16-bit weights on
   * the native path, embedding tables go straight to native memory (16-bit rows; a tied one also
   * serves the output projection) and never exist as float32 on the wasm heap. Such a model
   * cannot be exported, evaluated with the chunked loss or trained.
   */
  inference?: boolean;
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

/**
 * One checkpoint tensor as the stored float32 tensor (Linear weights transposed to [in, out]);
 * `round`: rounded to 16 bits on the host first (`--weights bfloat16|float16`), so the heap never
 * holds the unrounded copy.
 */
function readParameter(tensors: TensorSource, ckName: string, shape: readonly number[], transposed: boolean, source: string, round?: W16Dtype): tf.Tensor {
  const host = tensors.read(ckName);
  const want = hfShape(shape, transposed);
  if (shapeStr(host.shape) !== shapeStr(want)) {
    throw new PolyglotError(`${source}: tensor "${ckName}": expected shape ${shapeStr(want)}, found ${shapeStr(host.shape)}`);
  }
  if (!(host.data instanceof Float32Array)) {
    throw new PolyglotError(`${source}: tensor "${ckName}": expected a floating-point dtype, found ${host.dtype}`);
  }
  const data = host.data;
  if (round !== undefined) roundTo16InPlace(data, round);
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
export function checkpointInitialValues<C>(naming: WeightNaming<C>, tensors: TensorSource, config: C, source: string, round?: W16Dtype): InitialValueProvider {
  return (name, shape, transposed) => {
    const ckName = naming.checkpointName(name, tensors, config);
    if (ckName === undefined || !tensors.has(ckName)) return undefined;
    if (tensors instanceof Int8AwareSource && tensors.isInt8(ckName) && !(transposed && shape.length === 2)) {
      throw new PolyglotError(`${source}: tensor "${ckName}": int8 weights are read for linear layers only, found one for the parameter ${name} ${shapeStr(shape)}`);
    }
    const meta = tensors.meta(ckName);
    if (shapeStr(meta.shape) !== shapeStr(hfShape(shape, transposed)) || !FLOAT_DTYPES.includes(meta.dtype)) return undefined;
    return readParameter(tensors, ckName, shape, transposed, source, round);
  };
}

/**
 * The int8 / 16-bit side of loading: each Linear asks for its weight (layers/linear.ts
 * `withInt8Weights`); a stored int8 weight is taken as is, a float one quantized per output
 * channel (row of HF's [out, in]) when `precision` is int8. With bfloat16 / float16 a tensor
 * stored in that dtype is taken as its stored bytes (no float32 copy on the host or the heap),
 * others are read and rounded on the host. Routers stay float32 (see layers/weight-precision.ts).
 * Taken tensors are consumed, so the format's check, which sees only float parameters, does not
 * call them unexpected.
 */
function int8Weights<C>(
  naming: WeightNaming<C>,
  tensors: Int8AwareSource,
  config: C,
  precision: WeightPrecision,
  loaded: Omit<PrecisionReport, 'precision'>,
  onInt8?: PretrainedOptions['onInt8'],
): Int8WeightProvider {
  const w16 = precision === 'bfloat16' || precision === 'float16' ? precision : undefined;
  loaded.native = w16 !== undefined ? nativeW16Available() : nativeInt8Available();
  return (name, inFeatures, outFeatures) => {
    if (!isInt8Linear(name)) return undefined;
    const ckName = naming.checkpointName(name, tensors, config);
    if (ckName === undefined || !tensors.has(ckName)) return undefined;
    const meta = tensors.meta(ckName);
    if (shapeStr(meta.shape) !== shapeStr([outFeatures, inFeatures])) return undefined; // the check names it
    if (w16 !== undefined) {
      if (!FLOAT_DTYPES.includes(meta.dtype) && !tensors.isInt8(ckName)) return undefined;
      const stored = meta.dtype === w16StoredDtype(w16) ? tensors.storedBytes(ckName) : undefined;
      const h: W16Quantized = stored !== undefined ? w16FromStored(stored, outFeatures, inFeatures, w16) : w16FromRows(tensors.read(ckName).data as Float32Array, outFeatures, inFeatures, w16);
      tensors.consume(ckName);
      loaded.tensors++;
      if (loaded.native) loaded.nativeBytes += 2 * h.bits.length;
      return h;
    }
    let w: Int8Quantized;
    if (tensors.isInt8(ckName)) w = tensors.int8(ckName);
    else if (precision === 'int8' && FLOAT_DTYPES.includes(meta.dtype)) w = quantizeInt8Rows(tensors.read(ckName).data as Float32Array, outFeatures, inFeatures);
    else return undefined;
    tensors.consume(ckName);
    loaded.tensors++;
    if (loaded.native) loaded.nativeBytes += w.q.length + 4 * w.scale.length;
    onInt8?.(ckName, w);
    return w;
  };
}

/**
 * Embedding tables for inference loads (`inference`): read once on the host, kept 16-bit in
 * native memory (the precision's dtype; float16 for int8 weights, bfloat16 past float16's range:
 * int8 rows were measured past the int8 accuracy bound, docs/QUANTIZATION.md). int8 weights: the
 * output projection is quantized per row from the same read (the tied case, XGLM's and NLLB's
 * default); a model that turns out untied frees it. 16-bit: the rows serve the projection.
 */
class NativeTables<C> {
  private readonly made: { table: NativeTable; rows: W16Linear; projection?: Int8Linear }[] = [];

  constructor(
    private readonly naming: WeightNaming<C>,
    private readonly tensors: Int8AwareSource,
    private readonly config: C,
    private readonly precision: WeightPrecision,
    private readonly loaded: { tensors: number; nativeBytes: number },
  ) {}

  readonly provider: NativeTableProvider = (weightName, vocab, dim) => {
    const ckName = this.naming.checkpointName(weightName, this.tensors, this.config);
    if (ckName === undefined || !this.tensors.has(ckName)) return undefined;
    const meta = this.tensors.meta(ckName);
    if (shapeStr(meta.shape) !== shapeStr([vocab, dim]) || !FLOAT_DTYPES.includes(meta.dtype) || this.tensors.isInt8(ckName)) return undefined;
    const w16 = this.precision === 'bfloat16' || this.precision === 'float16' ? this.precision : undefined;
    const stored = w16 !== undefined && meta.dtype === w16StoredDtype(w16) ? this.tensors.storedBytes(ckName) : undefined;
    let rows: W16Linear;
    let projection: Int8Linear | undefined;
    if (stored !== undefined) rows = new W16Linear(w16FromStored(stored, vocab, dim, w16!));
    else {
      // Host arrays only inside this block: each is garbage as soon as its native copy exists.
      const data = this.tensors.read(ckName).data as Float32Array;
      rows = new W16Linear(w16 !== undefined ? w16FromRows(data, vocab, dim, w16) : w16LookupTable(data, vocab, dim));
      if (this.precision === 'int8') projection = new Int8Linear(quantizeInt8Rows(data, vocab, dim));
    }
    const table: NativeTable = { rows: (ids, multiplier) => rows.gatherRows(ids, multiplier) };
    this.made.push({ table, rows, projection });
    this.tensors.consume(ckName);
    this.loaded.tensors++;
    this.loaded.nativeBytes += 2 * vocab * dim + (projection !== undefined ? vocab * dim + 4 * vocab : 0);
    return table;
  };

  /** `tied`: each native table is also the output projection; else the int8 projections are freed. */
  finish(tied: boolean): void {
    for (const t of this.made) {
      if (tied) t.table.project = t.projection !== undefined ? (x) => t.projection!.apply(x) : (x) => t.rows.apply(x);
      else if (t.projection !== undefined) {
        this.loaded.nativeBytes -= t.projection.inFeatures * t.projection.outFeatures + 4 * t.projection.outFeatures;
        t.projection.dispose();
      }
    }
  }
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

/**
 * The precision a checkpoint's linear weights are stored in: int8 (`polyglot quantize`), else the
 * float dtype holding most bytes of its 2-D float tensors (BF16 -> bfloat16, F16 -> float16,
 * anything else float32).
 */
export function storedPrecision(tensors: Int8AwareSource): WeightPrecision {
  if (tensors.hasInt8) return 'int8';
  const bytes = new Map<string, number>();
  for (const name of tensors.names()) {
    const m = tensors.meta(name);
    if (m.shape.length !== 2 || !isFloatDType(m.dtype)) continue;
    bytes.set(m.dtype, (bytes.get(m.dtype) ?? 0) + m.shape[0] * m.shape[1]);
  }
  const [top] = [...bytes.entries()].sort((a, b) => b[1] - a[1]);
  return top?.[0] === 'BF16' ? 'bfloat16' : top?.[0] === 'F16' ? 'float16' : 'float32';
}

/** Builds a `cls` model from an opened checkpoint (the synchronous core of every loader). */
export function modelFromCheckpoint<C, M extends PretrainedModel>(
  cls: PretrainedClass<C, M>,
  ck: HfCheckpoint,
  options: LoadOptions = {},
  purpose?: string,
): M {
  const source = `${ck.dir}/config.json`;
  const format = formatFor(cls.formats, ck.config, source, purpose);
  const config = format.parseConfig(ck.config, source, options.configOverrides);
  // The hostile-checkpoint guard: shapes the config implies against the file's headers, before any allocation.
  format.checkShapes?.(config, ck.tensors, ck.dir);
  const tensors = new Int8AwareSource(ck.tensors, ck.dir);
  // Default: int8 checkpoints stay int8, floats compute in float32 (HF's default torch_dtype);
  // `auto`: as stored, 16-bit included (torch_dtype="auto").
  const precision = options.weights === 'auto' ? storedPrecision(tensors) : (options.weights ?? (tensors.hasInt8 ? 'int8' : 'float32'));
  const store =
    options.maxMemoryGB === undefined
      ? undefined
      : new ExpertStore({
          tensors,
          checkpointName: (n) => format.weights.checkpointName(n, tensors, config),
          budgetBytes: options.maxMemoryGB * BYTES_PER_GB,
          source: ck.dir,
          // int8 checkpoints (`polyglot quantize`): experts' stored int8 weights are used as is.
          readInt8: (n) => (tensors.isInt8(n) ? tensors.int8(n) : undefined),
          readBytes: (n) => tensors.storedBytes(n),
        });
  // With a budget, sparse layers register their experts with the store instead of allocating them.
  const build = (): M => (store ? withExpertStore(store, () => new cls(config)) : new cls(config));
  const round = precision === 'bfloat16' || precision === 'float16' ? precision : undefined;
  // 16-bit: the float parameters that stay float32 are rounded as they are read (`rounded`).
  const loaded = { tensors: 0, nativeBytes: 0, native: false, rounded: round !== undefined };
  const tables = options.inference === true && precision !== 'float32' && nativeW16Available() ? new NativeTables(format.weights, tensors, config, precision, loaded) : undefined;
  const withTables = (b: () => M): M => (tables !== undefined ? withNativeTables(tables.provider, b) : b());
  const model = withInitialValues(checkpointInitialValues(format.weights, tensors, config, ck.dir, round), () =>
    withTables(() => (precision !== 'float32' ? withInt8Weights(int8Weights(format.weights, tensors, config, precision, loaded, options.onInt8), build) : build())),
  );
  try {
    format.weights.check(model.namedParameters(), tensors, ck.dir, config);
    // A native table the model ties as its output projection (no lm_head parameter) gets that product too.
    tables?.finish(!model.namedParameters().some((p) => p.name === 'lm_head.weight'));
    // Offloaded experts are cached in the model's precision, so the store is attached first.
    if (store && store.layerCount > 0) model.expertStore = store;
    // The rest of the precision: a tied output projection (int8 / 16-bit copy), 16-bit rounding of the other weights.
    if (precision !== 'float32') applyWeightPrecision(model, precision, loaded);
    // Resident weights: float32 parameters + native int8 ones; the budget must leave room for one expert.
    store?.setResident(precision, float32ParameterBytes(model.namedParameters()) + precisionReportOf(model).nativeBytes);
    model.generationConfig = generationConfigOf(ck.dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** What `modelFromCheckpoint` takes of the options. */
export type LoadOptions = Pick<PretrainedOptions, 'configOverrides' | 'weights' | 'onInt8' | 'maxMemoryGB' | 'inference'>;

/** `fromPretrained`: a model directory or hub model id (see `resolvePretrained`) as a `cls` model. */
export async function modelFromPretrained<C, M extends PretrainedModel>(cls: PretrainedClass<C, M>, idOrDir: string, options: PretrainedOptions = {}): Promise<M> {
  return modelFromCheckpoint(cls, await openPretrained(idOrDir, options), options);
}
