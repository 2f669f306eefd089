/**
 * M2M-100 / dense NLLB-200 config.json (`model_type: "m2m_100"`, HF `M2M100Config`) mapped onto
 * the NLLB-MoE config in its all-dense case (docs/m2m100.md): the numerics are the same as an
 * NLLB-MoE whose sparse steps are 0, except that M2M100 layers drop the FFN block output with
 * `dropout` in training (`ffnOutputDropout: "dropout"`).
 */
import { PolyglotError } from '../../core/errors.js';
import { parseNllbMoeConfig, type NllbMoeConfig } from '../nllb-moe/config.js';

export const M2M100_MODEL_TYPE = 'm2m_100';

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
  const j = { ...(json as Record<string, unknown>), ...overrides };
  if (j.model_type !== undefined && j.model_type !== M2M100_MODEL_TYPE) {
    throw new PolyglotError(`${source}: field "model_type": expected "${M2M100_MODEL_TYPE}", found ${JSON.stringify(j.model_type)}`);
  }
  const dense: Record<string, unknown> = { model_type: 'nllb-moe', ...ALL_DENSE };
  for (const key of Object.keys(M2M100_FIELDS)) if (j[key] !== undefined) dense[key] = j[key];
  // HF attribute_map: hidden_size -> d_model, num_attention_heads -> encoder_attention_heads
  // (PretrainedConfig.__init__ assigns them after the named arguments, so they win).
  if (j.hidden_size !== undefined) dense.d_model = j.hidden_size;
  if (j.num_attention_heads !== undefined) dense.encoder_attention_heads = j.num_attention_heads;
  return { ...parseNllbMoeConfig(dense, source), ffnOutputDropout: 'dropout' };
}

/**
 * An M2M100Config as config.json (what HF's `save_pretrained` writes, minus version fields):
 * every M2M100 field from `c`, plus `extra` (e.g. the source file's `tokenizer_class`, `max_length`).
 */
export function m2m100ConfigJson(c: NllbMoeConfig, extra: Record<string, unknown> = {}): Record<string, unknown> {
  if (c.encoderSparseStep > 0 && c.encoderSparseStep <= c.encoderLayers || c.decoderSparseStep > 0 && c.decoderSparseStep <= c.decoderLayers) {
    throw new PolyglotError('m2m_100 config: expected an all-dense model, found sparse layers (write it as nllb-moe)');
  }
  return {
    ...extra,
    model_type: M2M100_MODEL_TYPE,
    architectures: ['M2M100ForConditionalGeneration'],
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxPositionEmbeddings,
    encoder_layers: c.encoderLayers,
    encoder_ffn_dim: c.encoderFfnDim,
    encoder_attention_heads: c.encoderAttentionHeads,
    decoder_layers: c.decoderLayers,
    decoder_ffn_dim: c.decoderFfnDim,
    decoder_attention_heads: c.decoderAttentionHeads,
    encoder_layerdrop: c.encoderLayerdrop,
    decoder_layerdrop: c.decoderLayerdrop,
    use_cache: c.useCache,
    is_encoder_decoder: c.isEncoderDecoder,
    activation_function: c.activationFunction,
    d_model: c.dModel,
    dropout: c.dropout,
    attention_dropout: c.attentionDropout,
    activation_dropout: c.activationDropout,
    init_std: c.initStd,
    decoder_start_token_id: c.decoderStartTokenId,
    scale_embedding: c.scaleEmbedding,
    pad_token_id: c.padTokenId,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    num_hidden_layers: c.encoderLayers,
    tie_word_embeddings: c.tieWordEmbeddings,
    ...(c.forcedBosTokenId === null ? {} : { forced_bos_token_id: c.forcedBosTokenId }),
  };
}
