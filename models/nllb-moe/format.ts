/** The "nllb-moe" model_type: config.json parsing, weight names, tokenizer, `polyglot info` summary. */
import type { CheckpointFormat } from '../checkpoint-format.js';
import { checkNllbMoeExpectedWeights } from './expected-weights.js';
import { summaryRows } from '../summary.js';
import { parseNllbMoeConfig, sparseLayers, type NllbMoeConfig } from './config.js';
import { nllbMoeWeights } from './weights.js';

function count(json: Record<string, unknown>, key: string): number {
  const v = json[key];
  return typeof v === 'number' ? v : 0;
}

/** `polyglot info` rows every NLLB-MoE-computed format shows (also m2m100-format.ts). */
export const SEQ2SEQ_SUMMARY: readonly (readonly [string, string])[] = [
  ['encoder layers', 'encoder_layers'],
  ['decoder layers', 'decoder_layers'],
  ['d_model', 'd_model'],
  ['encoder heads', 'encoder_attention_heads'],
  ['decoder heads', 'decoder_attention_heads'],
  ['encoder ffn dim', 'encoder_ffn_dim'],
  ['decoder ffn dim', 'decoder_ffn_dim'],
  ['vocab size', 'vocab_size'],
];

export const nllbMoeFormat: CheckpointFormat<NllbMoeConfig> = {
  modelType: 'nllb-moe',
  aliases: ['nllb_moe'],
  label: 'NLLB-MoE',
  parseConfig: (json, source, overrides) => parseNllbMoeConfig(json, source, overrides),
  // Config against the tensors' names and shapes before anything is allocated (docs: hostile configs).
  checkShapes: (config, tensors, dir) => checkNllbMoeExpectedWeights(config, tensors, `${dir}/config.json`),
  weights: nllbMoeWeights,
  // An NLLB-MoE upcycled from an M2M-100 checkpoint keeps its M2M100Tokenizer.
  tokenizerKinds: ['nllb', 'm2m100'],
  summarize(json) {
    const rows = summaryRows(json, [
      ...SEQ2SEQ_SUMMARY,
      ['experts', 'num_experts'],
      ['expert capacity', 'expert_capacity'],
      ['encoder sparse step', 'encoder_sparse_step'],
      ['decoder sparse step', 'decoder_sparse_step'],
    ]);
    const enc = sparseLayers(count(json, 'encoder_layers'), count(json, 'encoder_sparse_step'));
    const dec = sparseLayers(count(json, 'decoder_layers'), count(json, 'decoder_sparse_step'));
    rows['sparse encoder layers'] = enc.length ? enc.join(', ') : 'none';
    rows['sparse decoder layers'] = dec.length ? dec.join(', ') : 'none';
    return summaryRows(json, [['second expert policy', 'second_expert_policy']], rows);
  },
};
