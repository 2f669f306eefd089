/**
 * Writes a trained model as a Hugging Face model directory through convert/hf-writer.ts:
 * config.json, model.safetensors (HF names and layout; tied weights stored once under
 * their canonical name -- `model.embed_tokens.weight` / `model.shared.weight` -- as
 * save_pretrained does with safetensors), the tokenizer files and generation_config.json.
 */
import * as path from 'node:path';
import { isCopyableModelFile } from '../convert/model-file.js';
import { tf } from '../core/tf.js';
import { writeHfModelDir, type HfExtraFile, type HfWriteResult } from '../convert/hf-writer.js';
import type { TorchFloatName } from '../convert/dtypes.js';
import { distinctParameters, type TrainableModel } from '../core/trainable.js';

export const TOKENIZER_FILES = ['sentencepiece.bpe.model', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json'];

/** generation_config.json as HF derives it from a model config (`GenerationConfig.from_model_config`). */
export function generationConfigFrom(config: Record<string, unknown>): Record<string, unknown> {
  const g: Record<string, unknown> = { _from_model_config: true };
  for (const k of ['bos_token_id', 'decoder_start_token_id', 'eos_token_id', 'forced_bos_token_id', 'pad_token_id']) {
    if (config[k] !== undefined && config[k] !== null) g[k] = config[k];
  }
  g.transformers_version = typeof config.transformers_version === 'string' ? config.transformers_version : '4.55.0';
  return g;
}

export interface ExportHfOptions {
  /** The model directory training started from: tokenizer and generation config come from it. */
  sourceDir: string;
  config: Record<string, unknown>;
  dtype?: TorchFloatName;
  overwrite?: boolean;
  /** Parameter name -> the name HF's save_pretrained writes (the model_type's `weights.hfName`; default: the same name). */
  hfName?: (name: string) => string;
}

/** Parameters of `model` in HF layout (Linear weights transposed back to [out, in]). */
export function hfStateDict(model: TrainableModel, hfName: (name: string) => string = (n) => n): { name: string; shape: number[]; data: Float32Array }[] {
  return distinctParameters(model).map((p) => {
    const t = p.transposed ? tf.transpose(p.variable) : p.variable;
    const data = t.dataSync().slice() as Float32Array;
    if (t !== p.variable) t.dispose();
    return { name: hfName(p.name), shape: t.shape.slice(), data };
  });
}

export function exportHfModel(model: TrainableModel, outDir: string, o: ExportHfOptions): HfWriteResult {
  const extraFiles: HfExtraFile[] = [];
  for (const f of TOKENIZER_FILES) {
    if (isCopyableModelFile(o.sourceDir, f)) extraFiles.push({ name: f, sourcePath: path.join(o.sourceDir, f) });
  }
  const gen = path.join(o.sourceDir, 'generation_config.json');
  extraFiles.push(isCopyableModelFile(o.sourceDir, 'generation_config.json') ? { name: 'generation_config.json', sourcePath: gen } : { name: 'generation_config.json', contents: `${JSON.stringify(generationConfigFrom(o.config), null, 2)}\n` });
  return writeHfModelDir(outDir, { config: o.config, tensors: hfStateDict(model, o.hfName), extraFiles }, { dtype: o.dtype ?? 'float32', overwrite: o.overwrite ?? true });
}
