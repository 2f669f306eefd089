/**
 * The "m2m_100" model_type (HF M2M100ForConditionalGeneration: dense NLLB-200, M2M-100), read by
 * the NLLB-MoE class as its all-dense case (docs/m2m100.md): config.json parsing, M2M100 weight
 * names, tokenizer, `polyglot info` summary.
 */
import type { TensorSource } from '../../convert/checkpoint.js';
import type { CheckpointFormat } from '../checkpoint-format.js';
import { expectShape } from '../expected-weights.js';
import { summaryRows } from '../summary.js';
import type { NllbMoeConfig } from './config.js';
import { checkNllbMoeExpectedWeights } from './expected-weights.js';
import { SEQ2SEQ_SUMMARY } from './format.js';
import { parseM2M100Config } from './m2m100-config.js';
import { m2m100Weights } from './m2m100-weights.js';

/** Layer counts and the embedding (NLLB-MoE's check: same layer and embedding names), plus the first FFN and an untied head. */
function checkM2M100ExpectedWeights(c: NllbMoeConfig, tensors: TensorSource, source: string): void {
  checkNllbMoeExpectedWeights(c, tensors, source);
  for (const [side, ffn, layers] of [['encoder', c.encoderFfnDim, c.encoderLayers], ['decoder', c.decoderFfnDim, c.decoderLayers]] as const) {
    if (layers > 0) expectShape(tensors, `model.${side}.layers.0.fc1.weight`, [ffn, c.dModel], `${side}_ffn_dim and d_model`, source);
  }
  if (!c.tieWordEmbeddings) expectShape(tensors, 'lm_head.weight', [c.vocabSize, c.dModel], 'vocab_size and d_model', source);
}

export const m2m100Format: CheckpointFormat<NllbMoeConfig> = {
  modelType: 'm2m_100',
  aliases: [],
  label: 'M2M-100 (dense NLLB-200 / M2M-100)',
  parseConfig: (json, source, overrides) => parseM2M100Config(json, source, overrides),
  // Config against the tensors' names and shapes before anything is allocated (docs: hostile configs).
  checkShapes: (config, tensors, dir) => checkM2M100ExpectedWeights(config, tensors, `${dir}/config.json`),
  weights: m2m100Weights,
  // NLLB-200 repos (and the fixtures) use NllbTokenizer; facebook/m2m100_* use M2M100Tokenizer
  // (vocab.json, `__en__` tokens). Without a tokenizer_class, a folder with vocab.json is M2M-100's.
  tokenizerKinds: ['nllb', 'm2m100'],
  summarize(json) {
    const rows = summaryRows(json, [
      ...SEQ2SEQ_SUMMARY,
      ['activation', 'activation_function'],
      ['scale embedding', 'scale_embedding'],
    ]);
    // HF's default when the key is absent (PretrainedConfig): lm_head tied to model.shared
    rows['tied head'] = json.tie_word_embeddings !== false;
    return rows;
  },
};
