/**
 * `--weights int8|bfloat16|float16|float32`: the precision a model's linear-layer weights
 * compute with (README "Precision", docs/QUANTIZATION.md).
 *  - int8: every Linear weight (projections, FFN, experts, an untied lm_head) except MoE
 *    routers is quantized per output channel (backend/int8-weights.ts) into native memory
 *    and multiplied by the native int8 kernel, dequantised in registers; the float32 kernel
 *    is never created (models/pretrained.ts quantizes while loading) or freed (here, after
 *    loading). A tied output projection (logits = h·Eᵀ) gets an int8 copy of the table, whose
 *    float32 rows stay for the embedding lookup. Without the addon: float32 products of the
 *    dequantised weights (same numbers, no speed-up).
 *  - bfloat16 / float16: the same Linear weights are kept as 16-bit bits in native memory
 *    (a bf16 / f16 checkpoint's tensors as stored, others rounded to nearest even as torch's
 *    `.to(dtype)`) and multiplied by the native 16-bit kernel (widened to float32 in
 *    registers, float32 accumulation; backend/native-w16.ts); a tied output projection gets
 *    a 16-bit copy of the table. Every other float weight (embeddings, norms, biases, routers)
 *    is rounded to that precision and stays float32 on the backend. Without the addon: the
 *    rounded weights in float32 (same values, no memory gain).
 *  - float32: unchanged.
 */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { quantizeInt8, quantizeInt8Rows } from '../backend/int8-weights.js';
import { Int8Linear, float32View, nativeInt8Bytes } from '../backend/native-int8.js';
import { nativeAddon } from '../backend/native.js';
import { roundTo16, w16FromRows, w16LookupTable, type W16Dtype } from '../backend/w16-weights.js';
import { W16Linear, nativeW16Bytes } from '../backend/native-w16.js';
import type { HfParameter } from './base.js';
import { linearOfKernel, linearProducts } from './linear.js';
import { float32ParameterBytes, type ExpertStore } from './moe/expert-store.js';
import { embeddingOfTable } from './scaled-embedding.js';

export type WeightPrecision = 'float32' | 'bfloat16' | 'float16' | 'int8';
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ['float32', 'bfloat16', 'float16', 'int8'];
/** What `--weights` accepts: a precision, or `auto` = the checkpoint's own (torch_dtype="auto"; models/pretrained.ts storedPrecision). */
export type WeightsChoice = WeightPrecision | 'auto';
export const WEIGHTS_CHOICES: readonly WeightsChoice[] = [...WEIGHT_PRECISIONS, 'auto'];

const TIED_TABLE_NAMES = ['model.embed_tokens.weight', 'model.shared.weight'];

/**
 * Whether a Linear weight is quantized by int8: all but MoE routers, whose top-2 choice flips
 * on tiny logit changes (as bitsandbytes' llm_int8_skip_modules keeps MoE gates unquantized).
 */
export function isInt8Linear(weightName: string): boolean {
  return weightName.endsWith('.weight') && !weightName.includes('.router.');
}

export interface PrecisionReport {
  precision: WeightPrecision;
  /** Weights changed (int8: linear weights quantized; 16-bit: float weights rounded). */
  tensors: number;
  /** int8 / 16-bit: products run by the native kernel (false: float32 fallback). */
  native: boolean;
  /** int8: bytes of int8 weights + scales held in native memory; 16-bit: bytes of 16-bit weights there. */
  nativeBytes: number;
}

/** A whole model (XGLMForCausalLM, NllbMoeForConditionalGeneration, ...). */
interface HasParameters {
  namedParameters(): HfParameter[];
  /** Offloaded experts (`--max-memory`): cached in the same precision, read when used. */
  expertStore?: ExpertStore;
}

/** The native output-projection copy of each tied table (the rows `releaseTiedTables` reads). */
const tiedCopies = new WeakMap<tf.LayerVariable, Int8Linear | W16Linear>();

/**
 * Inference only: drops the float32 tied embedding tables that a native output-projection copy
 * already holds. 16-bit weights: lookups read that copy's rows (exactly the rounded table). int8:
 * lookups read a float16 copy of the table made here (bfloat16 if a value exceeds float16's
 * range), half the float32 bytes and outside the wasm heap: the int8 rows themselves were
 * measured past the int8 accuracy bound on nllb-moe-tiny (logits 0.60 against 0.5). Returns
 * the wasm-heap bytes freed (0 without native copies: float32 or no addon). The model can no
 * longer be exported, evaluated with the chunked loss or trained.
 */
export function releaseTiedTables(model: HasParameters): number {
  let freed = 0;
  for (const p of model.namedParameters()) {
    const copy = tiedCopies.get(p.variable);
    const embedding = embeddingOfTable.get(p.variable);
    if (copy === undefined || !copy.native || embedding === undefined || embedding.tableReleased) continue;
    const [rows, d] = p.variable.shape as number[];
    let rowsOf: W16Linear;
    if (copy instanceof Int8Linear) {
      rowsOf = new W16Linear(w16LookupTable(float32View(p.variable.read()), rows, d));
      const report = reports.get(model);
      if (report !== undefined) report.nativeBytes += 2 * rows * d;
    } else rowsOf = copy;
    freed += 4 * rows * d;
    embedding.releaseTable({ rows: (ids, multiplier) => rowsOf.gatherRows(ids, multiplier), project: (x) => copy.apply(x) });
  }
  if (freed > 0) {
    const r = precisionReportOf(model);
    model.expertStore?.setResident(r.precision, float32ParameterBytes(model.namedParameters()) + r.nativeBytes);
  }
  return freed;
}

/** What was applied to each model so far (loading and later calls add up). */
const reports = new WeakMap<object, PrecisionReport>();

/** The precision a model's weights have (float32 when nothing was applied). */
export function precisionReportOf(model: object): PrecisionReport {
  return reports.get(model) ?? { precision: 'float32', tensors: 0, native: false, nativeBytes: 0 };
}

/** A float32 parameter rounded to 16 bits after loading (the loader rounds while reading instead). */
function round16(v: tf.LayerVariable, dtype: W16Dtype): void {
  const rounded = roundTo16(float32View(v.read()), dtype);
  const t = tf.tensor(rounded, v.shape as number[], 'float32');
  v.write(t); // assigns a copy
  t.dispose();
}

/**
 * Applies `precision` to a loaded model's weights (the loader does it when given `weights`;
 * callers holding a float32 model may call it once before generating or evaluating).
 * Returns everything applied to the model so far.
 */
export function applyWeightPrecision(
  model: HasParameters,
  precision: WeightPrecision,
  /**
   * int8 / 16-bit weights the loader built before the model existed (models/pretrained.ts);
   * `rounded`: every other float parameter was already rounded to 16 bits as it was read.
   */
  loaded?: Omit<PrecisionReport, 'precision'> & { rounded?: boolean },
): PrecisionReport {
  if (!WEIGHT_PRECISIONS.includes(precision)) {
    throw new PolyglotError(`--weights: expected one of ${WEIGHT_PRECISIONS.join(', ')}, found "${precision}"`);
  }
  const report = reports.get(model) ?? { precision, tensors: 0, native: false, nativeBytes: 0 };
  if (report.precision !== precision && report.tensors > 0) {
    throw new PolyglotError(`--weights ${precision}: the model's weights are already ${report.precision}`);
  }
  if (reports.has(model) && report.precision === precision && loaded === undefined) return report; // applied before
  report.precision = precision;
  reports.set(model, report);
  if (loaded !== undefined) {
    report.tensors += loaded.tensors;
    report.nativeBytes += loaded.nativeBytes;
    report.native ||= loaded.native;
  }
  if (precision === 'float32') return report;
  const before = nativeInt8Bytes() + nativeW16Bytes();
  const params = model.namedParameters();
  // With no lm_head parameter the embedding table is the output projection (HF's
  // tie_word_embeddings): XGLM's model.embed_tokens, NLLB's model.shared.
  const tied = !params.some((p) => p.name === 'lm_head.weight');
  const tiedTables = new Set(params.filter((p) => tied && TIED_TABLE_NAMES.includes(p.name)).map((p) => p.variable));
  for (const p of params) {
    const v = p.variable;
    if (precision === 'int8' && tiedTables.has(v)) {
      // A tied output projection (logits = h E^T): E [vocab, d] is already one output channel a row.
      const [rows, d] = v.shape as number[];
      const lin = new Int8Linear(quantizeInt8Rows(float32View(v.read()), rows, d));
      linearProducts.set(v, (x) => lin.apply(x));
      tiedCopies.set(v, lin);
      report.native = lin.native;
      report.tensors++;
      continue;
    }
    if (precision === 'int8') {
      const linear = linearOfKernel.get(v);
      if (linear === undefined || !isInt8Linear(p.name)) continue;
      linear.toInt8((w, k, n) => quantizeInt8(w, k, n));
      report.native = linear.int8?.native ?? false;
      report.tensors++;
      continue;
    }
    const linear = linearOfKernel.get(v);
    if (linear !== undefined && isInt8Linear(p.name)) {
      // The Linear weights the loader did not already make 16-bit (a model loaded as float32).
      linear.toW16(precision);
      report.native = linear.w16?.native ?? false;
      report.tensors++;
      continue;
    }
    if (loaded?.rounded !== true) round16(v, precision);
    report.tensors++;
    if (tiedTables.has(v)) {
      // The tied output projection: a 16-bit copy of the (rounded) table, one output channel a row.
      const [rows, d] = v.shape as number[];
      const lin = new W16Linear(w16FromRows(float32View(v.read()), rows, d, precision));
      linearProducts.set(v, (x) => lin.apply(x));
      tiedCopies.set(v, lin);
      report.native = lin.native;
    }
  }
  if (nativeAddon() !== undefined) report.nativeBytes += nativeInt8Bytes() + nativeW16Bytes() - before;
  // Offloaded experts are cached in the same precision; the dense part now holds these bytes.
  model.expertStore?.setResident(precision, float32ParameterBytes(model.namedParameters()) + report.nativeBytes);
  return report;
}
