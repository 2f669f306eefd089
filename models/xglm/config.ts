/**
 * XGLMConfig: every field of HF's configuration_xglm.py with its HF default
 * (facebook/xglm-564M shapes), plus the PretrainedConfig fields the model uses.
 */
import { PolyglotError } from '../../core/errors.js';
import { checkConfigBounds } from '../../convert/config-bounds.js';
import { checkActivationName, type ActivationName } from '../../layers/activations.js';

export interface XGLMConfig {
  vocabSize: number;
  maxPositionEmbeddings: number;
  dModel: number;
  ffnDim: number;
  numLayers: number;
  attentionHeads: number;
  activationFunction: ActivationName;
  dropout: number;
  attentionDropout: number;
  activationDropout: number;
  layerdrop: number;
  initStd: number;
  scaleEmbedding: boolean;
  useCache: boolean;
  decoderStartTokenId: number | null;
  padTokenId: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  /** PretrainedConfig default true: lm_head shares embed_tokens. */
  tieWordEmbeddings: boolean;
}

export const XGLM_DEFAULTS: XGLMConfig = {
  vocabSize: 256008,
  maxPositionEmbeddings: 2048,
  dModel: 1024,
  ffnDim: 4096,
  numLayers: 24,
  attentionHeads: 16,
  activationFunction: 'gelu',
  dropout: 0.1,
  attentionDropout: 0.1,
  activationDropout: 0.0,
  layerdrop: 0.0,
  initStd: 0.02,
  scaleEmbedding: true,
  useCache: true,
  decoderStartTokenId: 2,
  padTokenId: 1,
  bosTokenId: 0,
  eosTokenId: 2,
  tieWordEmbeddings: true,
};

type Kind = 'positiveInt' | 'tokenId' | 'optionalTokenId' | 'probability' | 'positiveNumber' | 'boolean' | 'activation';

/** HF json key -> our field, with the value kind. Aliases from XGLMConfig.attribute_map are accepted too. */
const FIELDS: [string, keyof XGLMConfig, Kind][] = [
  ['vocab_size', 'vocabSize', 'positiveInt'],
  ['max_position_embeddings', 'maxPositionEmbeddings', 'positiveInt'],
  ['d_model', 'dModel', 'positiveInt'],
  ['ffn_dim', 'ffnDim', 'positiveInt'],
  ['num_layers', 'numLayers', 'positiveInt'],
  ['attention_heads', 'attentionHeads', 'positiveInt'],
  ['activation_function', 'activationFunction', 'activation'],
  ['dropout', 'dropout', 'probability'],
  ['attention_dropout', 'attentionDropout', 'probability'],
  ['activation_dropout', 'activationDropout', 'probability'],
  ['layerdrop', 'layerdrop', 'probability'],
  ['init_std', 'initStd', 'positiveNumber'],
  ['scale_embedding', 'scaleEmbedding', 'boolean'],
  ['use_cache', 'useCache', 'boolean'],
  ['decoder_start_token_id', 'decoderStartTokenId', 'optionalTokenId'],
  ['pad_token_id', 'padTokenId', 'tokenId'],
  ['bos_token_id', 'bosTokenId', 'optionalTokenId'],
  ['eos_token_id', 'eosTokenId', 'optionalTokenId'],
  ['tie_word_embeddings', 'tieWordEmbeddings', 'boolean'],
];

const ALIASES: Record<string, string> = {
  num_attention_heads: 'attention_heads',
  hidden_size: 'd_model',
  num_hidden_layers: 'num_layers',
};

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `array ${JSON.stringify(v).slice(0, 40)}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

function convert(source: string, key: string, kind: Kind, v: unknown): unknown {
  const bad = (expected: string) => new PolyglotError(`${source}: field "${key}": expected ${expected}, found ${describe(v)}`);
  switch (kind) {
    case 'positiveInt':
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw bad('a positive integer');
      return v;
    case 'tokenId':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad('a non-negative integer token id');
      return v;
    case 'optionalTokenId':
      if (v === null) return null;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad('a non-negative integer token id or null');
      return v;
    case 'probability':
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw bad('a number in [0, 1]');
      return v;
    case 'positiveNumber':
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw bad('a positive number');
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') throw bad('true or false');
      return v;
    case 'activation':
      if (typeof v !== 'string') throw bad('an activation name string');
      return checkActivationName(v, `${source}: field "${key}"`);
  }
}

/**
 * Parses config.json content. `source` names the file in error messages.
 * Missing fields take HF's defaults; a present field of the wrong type is an error.
 */
export function parseXGLMConfig(json: unknown, source = 'config.json'): XGLMConfig {
  checkConfigBounds(json, source);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PolyglotError(`${source}: expected a JSON object, found ${describe(json)}`);
  }
  const raw: Record<string, unknown> = { ...(json as Record<string, unknown>) };
  if (raw.model_type !== undefined && raw.model_type !== 'xglm') {
    throw new PolyglotError(`${source}: field "model_type": expected "xglm", found ${describe(raw.model_type)}`);
  }
  for (const [alias, key] of Object.entries(ALIASES)) {
    if (raw[alias] !== undefined && raw[key] === undefined) raw[key] = raw[alias];
  }
  const cfg: XGLMConfig = { ...XGLM_DEFAULTS };
  const out = cfg as unknown as Record<string, unknown>;
  for (const [key, field, kind] of FIELDS) {
    if (raw[key] === undefined) continue;
    out[field] = convert(source, key, kind, raw[key]);
  }
  if (cfg.dModel % cfg.attentionHeads !== 0) {
    throw new PolyglotError(`${source}: field "d_model": expected a multiple of attention_heads (${cfg.attentionHeads}), found ${cfg.dModel}`);
  }
  if (cfg.padTokenId >= cfg.vocabSize) {
    throw new PolyglotError(`${source}: field "pad_token_id": expected an id below vocab_size (${cfg.vocabSize}), found ${cfg.padTokenId}`);
  }
  return cfg;
}

/** Applies HF-named overrides (e.g. a fixture case's params.config_overrides) to a parsed config. */
export function withConfigOverrides(cfg: XGLMConfig, overrides: Record<string, unknown> | undefined, source = 'config_overrides'): XGLMConfig {
  if (!overrides || Object.keys(overrides).length === 0) return cfg;
  const json: Record<string, unknown> = toHfJson(cfg);
  for (const [k, v] of Object.entries(overrides)) json[k] = v;
  return parseXGLMConfig(json, source);
}

/** The config as HF config.json fields. */
export function toHfJson(cfg: XGLMConfig): Record<string, unknown> {
  const json: Record<string, unknown> = { model_type: 'xglm', architectures: ['XGLMForCausalLM'] };
  const c = cfg as unknown as Record<string, unknown>;
  for (const [key, field] of FIELDS) json[key] = c[field];
  return json;
}
