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
 * model reads. Their HF defaults equal NllbMoeConfig's for the same keys (test/m2m100.test.ts pins
 * them), so validation and defaults are the NLLB-MoE parser's.
 */
export const M2M100_CONFIG_KEYS: readonly string[] = [
  'vocab_size', 'max_position_embeddings', 'd_model',
  'encoder_layers', 'encoder_ffn_dim', 'encoder_attention_heads', 'decoder_layers', 'decoder_ffn_dim', 'decoder_attention_heads',
  'encoder_layerdrop', 'decoder_layerdrop', 'use_cache', 'is_encoder_decoder', 'activation_function',
  'dropout', 'attention_dropout', 'activation_dropout', 'init_std', 'scale_embedding',
  'decoder_start_token_id', 'pad_token_id', 'bos_token_id', 'eos_token_id', 'tie_word_embeddings', 'forced_bos_token_id',
];

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
  for (const key of M2M100_CONFIG_KEYS) if (j[key] !== undefined) dense[key] = j[key];
  // HF attribute_map: hidden_size -> d_model, num_attention_heads -> encoder_attention_heads
  // (PretrainedConfig.__init__ assigns them after the named arguments, so they win).
  if (j.hidden_size !== undefined) dense.d_model = j.hidden_size;
  if (j.num_attention_heads !== undefined) dense.encoder_attention_heads = j.num_attention_heads;
  return { ...parseNllbMoeConfig(dense, source), ffnOutputDropout: 'dropout' };
}
