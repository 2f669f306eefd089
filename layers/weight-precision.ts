/**
 * `--weights int8|bfloat16|float16|float32`: the precision a loaded model's linear-layer
 * weights compute with (README "Precision").
 *  - int8: every Linear kernel (projections, FFN, experts; `transposed` HF parameters of
 *    rank 2) except MoE routers, and a tied output projection (logits = h·Eᵀ), is
 *    quantized per output channel (backend/int8-weights.ts) and multiplied by the native
 *    int8 kernel, weights in native memory, dequantised in registers; without the addon,
 *    by a float32 product with the dequantised weights (same numbers, no speed-up).
 *  - bfloat16 / float16: every float weight is rounded to that precision (round to
 *    nearest even, as torch's `.to(dtype)`) and computed in float32: the accuracy of a
 *    16-bit checkpoint, not its memory.
 *  - float32: unchanged.
 */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { decodeToFloat32, encodeTensorData } from '../convert/dtypes.js';
import { quantizeInt8, quantizeInt8Rows } from '../backend/int8-weights.js';
import { Int8Linear, nativeInt8Bytes } from '../backend/native-int8.js';
import type { HfParameter } from './base.js';
import { linearProducts } from './linear.js';
import { float32ParameterBytes, type ExpertStore } from './moe/expert-store.js';

export type WeightPrecision = 'float32' | 'bfloat16' | 'float16' | 'int8';
export const WEIGHT_PRECISIONS: readonly WeightPrecision[] = ['float32', 'bfloat16', 'float16', 'int8'];

const TIED_TABLE_NAMES = ['model.embed_tokens.weight', 'model.shared.weight'];

export interface PrecisionReport {
  precision: WeightPrecision;
  /** Weights changed (int8: linear kernels quantized; 16-bit: float weights rounded). */
  tensors: number;
  /** int8: products run by the native kernel (false: float32 fallback). */
  native: boolean;
  /** int8: bytes of int8 weights + scales held in native memory. */
  nativeBytes: number;
}

/** A whole model (XGLMForCausalLM, NllbMoeForConditionalGeneration, ...). */
interface HasParameters {
  namedParameters(): HfParameter[];
  /** Offloaded experts (`--max-memory`): cached in the same precision, read when used. */
  expertStore?: ExpertStore;
}

function round16(v: tf.LayerVariable, dtype: 'BF16' | 'F16', name: string): void {
  const data = v.read().dataSync() as Float32Array;
  const rounded = decodeToFloat32(dtype, encodeTensorData(dtype, data, name)) as Float32Array;
  const t = tf.tensor(rounded, v.shape as number[], 'float32');
  v.write(t); // assigns a copy
  t.dispose();
}

/** Applies `precision` to a loaded model's weights (once, before generating or evaluating). */
export function applyWeightPrecision(model: HasParameters, precision: WeightPrecision): PrecisionReport {
  if (!WEIGHT_PRECISIONS.includes(precision)) {
    throw new PolyglotError(`--weights: expected one of ${WEIGHT_PRECISIONS.join(', ')}, found "${precision}"`);
  }
  const report: PrecisionReport = { precision, tensors: 0, native: false, nativeBytes: 0 };
  if (precision === 'float32') return report;
  const before = nativeInt8Bytes();
  const params = model.namedParameters();
  // With no lm_head parameter the embedding table is the output projection (HF's
  // tie_word_embeddings): XGLM's model.embed_tokens, NLLB's model.shared.
  const tied = !params.some((p) => p.name === 'lm_head.weight');
  const tiedTables = new Set(params.filter((p) => tied && TIED_TABLE_NAMES.includes(p.name)).map((p) => p.variable));
  for (const p of params) {
    const v = p.variable;
    if (precision === 'int8' && tiedTables.has(v) && !linearProducts.has(v)) {
      // A tied output projection (logits = h E^T): E [vocab, d] is already one output channel a row.
      const [rows, d] = v.shape as number[];
      const lin = new Int8Linear(quantizeInt8Rows(v.read().dataSync() as Float32Array, rows, d));
      linearProducts.set(v, (x) => lin.apply(x));
      report.tensors++;
      continue;
    }
    if (precision === 'int8') {
      // Routers stay float32: their top-2 choice flips on tiny logit changes (as
      // bitsandbytes' llm_int8_skip_modules keeps MoE gates unquantized).
      if (!p.transposed || v.shape.length !== 2 || !p.name.endsWith('.weight') || p.name.includes('.router.') || linearProducts.has(v)) continue;
      const [k, n] = v.shape as number[];
      const lin = new Int8Linear(quantizeInt8(v.read().dataSync() as Float32Array, k, n));
      linearProducts.set(v, (x) => lin.apply(x));
      report.native = lin.native;
      report.tensors++;
    } else {
      round16(v, precision === 'bfloat16' ? 'BF16' : 'F16', p.name);
      report.tensors++;
    }
  }
  report.nativeBytes = nativeInt8Bytes() - before;
  // Offloaded experts are cached in the same precision; the dense part now holds these bytes.
  model.expertStore?.setResident(precision, float32ParameterBytes(params) + report.nativeBytes);
  return report;
}
