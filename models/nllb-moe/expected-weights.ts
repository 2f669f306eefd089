/** NLLB-MoE config vs checkpoint, before building (models/expected-weights.ts). */
import type { TensorSource } from '../../convert/checkpoint.js';
import { expectBlockCount, expectShape } from '../expected-weights.js';
import type { NllbMoeConfig } from './config.js';

export function checkNllbMoeExpectedWeights(cfg: NllbMoeConfig, tensors: TensorSource, source: string): void {
  expectBlockCount(tensors, /^model\.encoder\.layers\.(\d+)\./, cfg.encoderLayers, 'encoder_layers', 'encoder layers', source);
  expectBlockCount(tensors, /^model\.decoder\.layers\.(\d+)\./, cfg.decoderLayers, 'decoder_layers', 'decoder layers', source);
  const sparse = tensors.names().some((n) => /\.experts\.expert_\d+\./.test(n));
  if (sparse) expectBlockCount(tensors, /^model\.(?:en|de)coder\.layers\.\d+\.ffn\.experts\.expert_(\d+)\./, cfg.numExperts, 'num_experts', 'experts per sparse layer', source);
  expectShape(tensors, 'model.shared.weight', [cfg.vocabSize, cfg.dModel], 'vocab_size and d_model', source);
}
