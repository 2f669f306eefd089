/**
 * M2M-100 / dense NLLB-200 config.json (`model_type: "m2m_100"`, HF `M2M100Config`) mapped onto
 * the NLLB-MoE config in its all-dense case (docs/m2m100.md; the format is m2m100-format.ts): the numerics are the same as an
 * NLLB-MoE whose sparse steps are 0, except that M2M100 layers drop the FFN block output with
 * `dropout` in training (`ffnOutputDropout: "dropout"`).
 */
import { PolyglotError } from '../../core/errors.js';
import { parseNllbMoeConfig, type NllbMoeConfig } from './config.js';

/**
 * Every `M2M100Config` field (configuration_m2m_100.py) and the `PretrainedConfig` fields the
 * model reads, with HF's defaults. Validation (types, ranges) is the NLLB-MoE parser's, which
 * uses the same JSON keys and the same defaults for all of these.
 */
export const M2M100_FIELDS: Record<string, unknown> = {
  vocab_size: 128112,
  max_position_embeddings: 1024,
  encoder_layers: 12,
  encoder_ffn_dim: 4096,
  encoder_attention_heads: 16,
  decoder_layers: 12,
  decoder_ffn_dim: 4096,
  decoder_attention_heads: 16,
  encoder_layerdrop: 0.05,
  decoder_layerdrop: 0.05,
  use_cache: true,
  is_encoder_decoder: true,
  activation_function: 'relu',
  d_model: 1024,
  dropout: 0.1,
  attention_dropout: 0.1,
  activation_dropout: 0.0,
  init_std: 0.02,
  decoder_start_token_id: 2,
  scale_embedding: true,
  pad_token_id: 1,
  bos_token_id: 0,
  eos_token_id: 2,
  tie_word_embeddings: true,
  forced_bos_token_id: null,
};

/** The all-dense NLLB-MoE settings (no sparse layer, so no router or expert is built). */
const ALL_DENSE: Record<string, unknown> = { encoder_sparse_step: 0, decoder_sparse_step: 0, moe_token_dropout: 0 };

/**
 * Parses an m2m_100 config.json (`source` names it in messages); `overrides` (HF JSON keys) are
 * applied first, e.g. a verify case's `config_overrides` or training dropouts. Fields M2M100Config
 * does not have (router / expert settings) are ignored, as HF ignores them.
 */
export function parseM2M100Config(json: unknown, source = 'config.json', overrides: Record<string, unknown> = {}): NllbMoeConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new PolyglotError(`${source}: expected a JSON object`);
  // model_type was checked by the registry (models/checkpoint-format.ts formatFor)
  const j = { ...(json as Record<string, unknown>), ...overrides };
  const dense: Record<string, unknown> = { ...ALL_DENSE };
  for (const key of Object.keys(M2M100_FIELDS)) if (j[key] !== undefined) dense[key] = j[key];
  // HF attribute_map: hidden_size -> d_model, num_attention_heads -> encoder_attention_heads
  // (PretrainedConfig.__init__ assigns them after the named arguments, so they win).
  if (j.hidden_size !== undefined) dense.d_model = j.hidden_size;
  if (j.num_attention_heads !== undefined) dense.encoder_attention_heads = j.num_attention_heads;
  return { ...parseNllbMoeConfig(dense, source), ffnOutputDropout: 'dropout' };
}
