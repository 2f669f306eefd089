/**
 * `polyglot quantize MODEL --out DIR --dtype int8|bfloat16|float16` (docs/QUANTIZATION.md).
 * int8: the model is loaded with `weights: 'int8'` (so exactly the linear weights the loader
 * would quantize are chosen: projections, FFN, experts, an untied lm_head; not routers, not
 * embeddings) and each is written as `<name>` I8 [out, in] + `<name>_scale` F32 [out]; every
 * other tensor keeps its stored float dtype, and config.json gains a `quantization_config`.
 * Loading the result gives the same int8 weights, hence the same logits, as `--weights int8`
 * on the source. bfloat16 / float16: `polyglot convert --dtype` (weights rounded, 2 bytes each).
 */
import * as fs from 'node:fs';
import { PolyglotError } from '../core/errors.js';
import type { Int8Quantized } from '../backend/int8-weights.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { convertCheckpoint, type ConvertResult } from '../convert/convert.js';
import { loadModelFromCheckpoint } from './registry.js';

export type QuantizeDType = 'int8' | 'bfloat16' | 'float16';
export const QUANTIZE_DTYPES: readonly QuantizeDType[] = ['int8', 'bfloat16', 'float16'];

/** What config.json says about an int8 checkpoint (read back by nothing but humans: the tensors' dtypes decide). */
export const INT8_QUANTIZATION_CONFIG = {
  quant_method: 'polyglot_int8',
  bits: 8,
  granularity: 'per_output_channel',
  symmetric: true,
  weight_dtype: 'int8',
  scale_suffix: '_scale',
  scale_dtype: 'float32',
  formula: 'w[out, in] = q[out, in] * scale[out]',
  modules_not_converted: ['embeddings', 'router classifiers', 'layer norms', 'biases'],
} as const;

export interface QuantizeOptions {
  dtype: QuantizeDType;
  force?: boolean;
  maxShardBytes?: number;
}

export interface QuantizeResult extends ConvertResult {
  /** Linear weights stored as int8. */
  int8Tensors: number;
}

export function quantizeCheckpoint(input: string, outDir: string, opts: QuantizeOptions): QuantizeResult {
  if (!QUANTIZE_DTYPES.includes(opts.dtype)) throw new PolyglotError(`--dtype: expected one of ${QUANTIZE_DTYPES.join(', ')}, found ${JSON.stringify(opts.dtype)}`);
  // Refuse before the (possibly long) model load.
  if (fs.existsSync(outDir) && !opts.force) throw new PolyglotError(`${outDir}: already exists (pass --force to replace it)`);
  const common = { force: opts.force, maxShardBytes: opts.maxShardBytes };
  if (opts.dtype !== 'int8') return { ...convertCheckpoint(input, outDir, { ...common, dtype: opts.dtype }), int8Tensors: 0 };
  const ck = openCheckpoint(input);
  const int8Weights = new Map<string, Int8Quantized>();
  const { model } = loadModelFromCheckpoint(ck, { weights: 'int8', onInt8: (name, w) => int8Weights.set(name, w) }, ' to quantize');
  model.dispose();
  const res = convertCheckpoint(input, outDir, { ...common, int8Weights, configFields: { quantization_config: INT8_QUANTIZATION_CONFIG } });
  return { ...res, int8Tensors: int8Weights.size };
}
