/** XGLM config vs checkpoint, before building (models/expected-weights.ts). */
import type { TensorSource } from '../../convert/checkpoint.js';
import { expectBlockCount, expectShape } from '../expected-weights.js';
import type { XGLMConfig } from './config.js';

export function checkXGLMExpectedWeights(cfg: XGLMConfig, tensors: TensorSource, source: string): void {
  expectBlockCount(tensors, /^(?:model\.)?layers\.(\d+)\./, cfg.numLayers, 'num_layers', 'decoder layers', source);
  expectShape(tensors, 'model.embed_tokens.weight', [cfg.vocabSize, cfg.dModel], 'vocab_size and d_model', source);
  expectShape(tensors, 'model.layers.0.fc1.weight', [cfg.ffnDim, cfg.dModel], 'ffn_dim and d_model', source);
}
