/** The "xglm" model_type: config.json parsing, weight names, tokenizer, `polyglot info` summary. */
import type { CheckpointFormat } from '../checkpoint-format.js';
import { checkXGLMExpectedWeights } from './expected-weights.js';
import { summaryRows } from '../summary.js';
import { parseXGLMConfig, withConfigOverrides, type XGLMConfig } from './config.js';
import { xglmWeights } from './weights.js';

export const xglmFormat: CheckpointFormat<XGLMConfig> = {
  modelType: 'xglm',
  aliases: [],
  label: 'XGLM',
  parseConfig: (json, source, overrides) => withConfigOverrides(parseXGLMConfig(json, source), overrides, 'config overrides'),
  // Config against the tensors' names and shapes before anything is allocated (docs: hostile configs).
  checkShapes: (config, tensors, dir) => checkXGLMExpectedWeights(config, tensors, `${dir}/config.json`),
  weights: xglmWeights,
  tokenizerKinds: ['xglm'],
  summarize: (json) =>
    summaryRows(json, [
      ['layers', 'num_layers'],
      ['d_model', 'd_model'],
      ['attention heads', 'attention_heads'],
      ['ffn dim', 'ffn_dim'],
      ['vocab size', 'vocab_size'],
      ['max positions', 'max_position_embeddings'],
      ['activation', 'activation_function'],
    ]),
};
