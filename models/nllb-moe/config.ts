/**
 * NLLB-MoE config.json: every field of HF `NllbMoeConfig` (configuration_nllb_moe.py) with HF's
 * defaults, plus the `PretrainedConfig` fields the model reads. Field types are checked; a wrong
 * type is a PolyglotError naming config.json and the field.
 */
import { PolyglotError } from '../../core/errors.js';
import { checkConfigBounds } from '../../convert/config-bounds.js';

export type RouterDType = 'float32' | 'float16' | 'bfloat16';

export interface NllbMoeConfig {
  vocabSize: number;
  maxPositionEmbeddings: number;
  dModel: number;
  encoderLayers: number;
  encoderFfnDim: number;
  encoderAttentionHeads: number;
  decoderLayers: number;
  decoderFfnDim: number;
  decoderAttentionHeads: number;
  encoderLayerdrop: number;
  decoderLayerdrop: number;
  useCache: boolean;
  isEncoderDecoder: boolean;
  activationFunction: string;
  dropout: number;
  attentionDropout: number;
  activationDropout: number;
  initStd: number;
  decoderStartTokenId: number;
  scaleEmbedding: boolean;
  routerBias: boolean;
  /** HF casts the router to this dtype; tfjs computes in float32 in every case. */
  routerDtype: RouterDType;
  /** Inverted name, as HF: false = padding tokens are NOT routed. */
  routerIgnorePaddingTokens: boolean;
  numExperts: number;
  encoderSparseStep: number;
  decoderSparseStep: number;
  /** Training capacity per expert; null = 2 * ceil(N / E). */
  expertCapacity: number | null;
  routerZLossCoef: number;
  routerAuxLossCoef: number;
  /** "all" | "sampling" | "random"; any other string behaves like "all" (as in HF). */
  secondExpertPolicy: string;
  normalizeRouterProbBeforeDropping: boolean;
  batchPrioritizedRouting: boolean;
  moeEvalCapacityTokenFraction: number;
  moeTokenDropout: number;
  padTokenId: number;
  bosTokenId: number;
  eosTokenId: number;
  tieWordEmbeddings: boolean;
  outputRouterLogits: boolean;
  forcedBosTokenId: number | null;
  /**
   * Which probability drops the FFN block's output in training: HF's NllbMoe layers use
   * `activation_dropout` (their `ff_dropout`), M2M100 layers (dense NLLB-200, M2M-100) use
   * `dropout` (docs/m2m100.md). Absent = "activation_dropout".
   */
  ffnOutputDropout?: 'activation_dropout' | 'dropout';
}

type Kind = 'int' | 'number' | 'bool' | 'string' | 'int?';

/** json key -> [config key, kind, HF default]. */
const FIELDS: [string, keyof NllbMoeConfig, Kind, unknown][] = [
  ['vocab_size', 'vocabSize', 'int', 128112],
  ['max_position_embeddings', 'maxPositionEmbeddings', 'int', 1024],
  ['d_model', 'dModel', 'int', 1024],
  ['encoder_layers', 'encoderLayers', 'int', 12],
  ['encoder_ffn_dim', 'encoderFfnDim', 'int', 4096],
  ['encoder_attention_heads', 'encoderAttentionHeads', 'int', 16],
  ['decoder_layers', 'decoderLayers', 'int', 12],
  ['decoder_ffn_dim', 'decoderFfnDim', 'int', 4096],
  ['decoder_attention_heads', 'decoderAttentionHeads', 'int', 16],
  ['encoder_layerdrop', 'encoderLayerdrop', 'number', 0.05],
  ['decoder_layerdrop', 'decoderLayerdrop', 'number', 0.05],
  ['use_cache', 'useCache', 'bool', true],
  ['is_encoder_decoder', 'isEncoderDecoder', 'bool', true],
  ['activation_function', 'activationFunction', 'string', 'relu'],
  ['dropout', 'dropout', 'number', 0.1],
  ['attention_dropout', 'attentionDropout', 'number', 0.1],
  ['activation_dropout', 'activationDropout', 'number', 0.0],
  ['init_std', 'initStd', 'number', 0.02],
  ['decoder_start_token_id', 'decoderStartTokenId', 'int', 2],
  ['scale_embedding', 'scaleEmbedding', 'bool', true],
  ['router_bias', 'routerBias', 'bool', false],
  ['router_dtype', 'routerDtype', 'string', 'float32'],
  ['router_ignore_padding_tokens', 'routerIgnorePaddingTokens', 'bool', false],
  ['num_experts', 'numExperts', 'int', 128],
  ['encoder_sparse_step', 'encoderSparseStep', 'int', 4],
  ['expert_capacity', 'expertCapacity', 'int?', 64],
  ['decoder_sparse_step', 'decoderSparseStep', 'int', 4],
  ['router_z_loss_coef', 'routerZLossCoef', 'number', 0.001],
  ['router_aux_loss_coef', 'routerAuxLossCoef', 'number', 0.001],
  ['second_expert_policy', 'secondExpertPolicy', 'string', 'all'],
  ['normalize_router_prob_before_dropping', 'normalizeRouterProbBeforeDropping', 'bool', false],
  ['batch_prioritized_routing', 'batchPrioritizedRouting', 'bool', false],
  ['moe_eval_capacity_token_fraction', 'moeEvalCapacityTokenFraction', 'number', 1.0],
  ['moe_token_dropout', 'moeTokenDropout', 'number', 0.2],
  ['pad_token_id', 'padTokenId', 'int', 1],
  ['bos_token_id', 'bosTokenId', 'int', 0],
  ['eos_token_id', 'eosTokenId', 'int', 2],
  ['tie_word_embeddings', 'tieWordEmbeddings', 'bool', true],
  ['output_router_logits', 'outputRouterLogits', 'bool', false],
  ['forced_bos_token_id', 'forcedBosTokenId', 'int?', null],
];

/** The HF JSON key of a config field (for messages). */
export function jsonKeyOf(key: keyof NllbMoeConfig): string {
  return FIELDS.find((f) => f[1] === key)?.[0] ?? String(key);
}

function parseField(source: string, jsonKey: string, kind: Kind, v: unknown): unknown {
  const bad = (what: string) =>
    new PolyglotError(`${source}: field "${jsonKey}": expected ${what}, found ${JSON.stringify(v)}`);
  switch (kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) throw bad('an integer');
      return v;
    case 'int?':
      if (v === null) return null;
      if (typeof v !== 'number' || !Number.isInteger(v)) throw bad('an integer or null');
      return v;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('a number');
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw bad('true or false');
      return v;
    case 'string':
      if (typeof v !== 'string') throw bad('a string');
      return v;
  }
}

/**
 * Parses config.json (`source` names the file in messages). `overrides` (HF JSON keys) are
 * applied on top, e.g. a verify case's `config_overrides`.
 */
export function parseNllbMoeConfig(json: unknown, source = 'config.json', overrides: Record<string, unknown> = {}): NllbMoeConfig {
  checkConfigBounds(json, source);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new PolyglotError(`${source}: expected a JSON object`);
  }
  const j = { ...(json as Record<string, unknown>), ...overrides };
  const mt = j.model_type;
  if (mt !== undefined && mt !== 'nllb-moe' && mt !== 'nllb_moe') {
    throw new PolyglotError(`${source}: field "model_type": expected "nllb-moe", found ${JSON.stringify(mt)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [jsonKey, key, kind, def] of FIELDS) {
    const v = j[jsonKey];
    out[key] = v === undefined ? def : parseField(source, jsonKey, kind, v);
  }
  const c = out as unknown as NllbMoeConfig;
  // HF: num_hidden_layers is an alias of encoder_layers; hidden_size of d_model.
  if (j.hidden_size !== undefined) c.dModel = parseField(source, 'hidden_size', 'int', j.hidden_size) as number;
  if (!['float32', 'float16', 'bfloat16'].includes(c.routerDtype)) {
    throw new PolyglotError(`${source}: field "router_dtype": expected "float32", "float16" or "bfloat16", found ${JSON.stringify(c.routerDtype)}`);
  }
  const positive: (keyof NllbMoeConfig)[] = ['vocabSize', 'dModel', 'encoderFfnDim', 'decoderFfnDim', 'encoderAttentionHeads', 'decoderAttentionHeads', 'numExperts', 'maxPositionEmbeddings'];
  for (const k of positive) {
    if ((c[k] as number) <= 0) throw new PolyglotError(`${source}: field "${jsonKeyOf(k)}": expected a positive integer, found ${c[k]}`);
  }
  for (const k of ['encoderAttentionHeads', 'decoderAttentionHeads'] as const) {
    if (c.dModel % c[k] !== 0) {
      throw new PolyglotError(`${source}: field "${jsonKeyOf(k)}": expected a divisor of d_model=${c.dModel}, found ${c[k]}`);
    }
  }
  for (const k of ['moeTokenDropout', 'dropout', 'attentionDropout', 'activationDropout', 'encoderLayerdrop', 'decoderLayerdrop'] as const) {
    if (c[k] < 0 || c[k] >= 1) throw new PolyglotError(`${source}: field "${jsonKeyOf(k)}": expected a probability in [0, 1), found ${c[k]}`);
  }
  if (c.expertCapacity !== null && c.expertCapacity < 0) {
    throw new PolyglotError(`${source}: field "expert_capacity": expected a non-negative integer or null, found ${c.expertCapacity}`);
  }
  return c;
}

/** HF: layer i is sparse iff step > 0 and (i + 1) % step == 0. */
export function isSparseLayer(i: number, sparseStep: number): boolean {
  return sparseStep > 0 && (i + 1) % sparseStep === 0;
}

/** The sparse layer indices of a stack of `layers` layers. */
export function sparseLayers(layers: number, sparseStep: number): number[] {
  return Array.from({ length: Math.max(0, layers) }, (_, i) => i).filter((i) => isSparseLayer(i, sparseStep));
}
