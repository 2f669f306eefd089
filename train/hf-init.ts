/**
 * Fresh models with Hugging Face's initialisation (`_init_weights` of XGLMPreTrainedModel
 * and NllbMoePreTrainedModel): Linear weights ~ normal(0, init_std) with zero biases
 * (router classifiers are Linear too), Embedding ~ normal(0, init_std) with the padding
 * row zeroed, LayerNorm weight 1 / bias 0. Tensors are produced in HF layout under HF
 * state-dict names (tied lm_head omitted, as safetensors checkpoints store it), from a
 * seeded Rng so `polyglot init --seed S` is reproducible.
 */
import { Rng } from '../core/random.js';
import { PolyglotError } from '../core/errors.js';
import type { HfTensorToWrite } from '../convert/hf-writer.js';

export type Arch = 'xglm' | 'nllb-moe';

type Kind = 'linear' | 'bias' | 'embedding' | 'ln_weight' | 'ln_bias';
interface ParamSpec {
  name: string;
  shape: number[];
  kind: Kind;
}

function num(c: Record<string, unknown>, key: string): number {
  const v = c[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new PolyglotError(`config: field "${key}": expected a non-negative integer, found ${JSON.stringify(v)}`);
  return v;
}

function linear(out: ParamSpec[], prefix: string, nOut: number, nIn: number, bias = true): void {
  out.push({ name: `${prefix}.weight`, shape: [nOut, nIn], kind: 'linear' });
  if (bias) out.push({ name: `${prefix}.bias`, shape: [nOut], kind: 'bias' });
}

function layerNorm(out: ParamSpec[], prefix: string, d: number): void {
  out.push({ name: `${prefix}.weight`, shape: [d], kind: 'ln_weight' }, { name: `${prefix}.bias`, shape: [d], kind: 'ln_bias' });
}

function attention(out: ParamSpec[], prefix: string, d: number): void {
  for (const p of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) linear(out, `${prefix}.${p}`, d, d);
}

/** Every parameter (HF names, HF shapes) of a model with this HF config.json. */
export function hfParameterSpecs(arch: Arch, c: Record<string, unknown>): ParamSpec[] {
  const out: ParamSpec[] = [];
  const d = num(c, 'd_model');
  if (arch === 'xglm') {
    out.push({ name: 'model.embed_tokens.weight', shape: [num(c, 'vocab_size'), d], kind: 'embedding' });
    const ffn = num(c, 'ffn_dim');
    for (let i = 0; i < num(c, 'num_layers'); i++) {
      const p = `model.layers.${i}`;
      attention(out, `${p}.self_attn`, d);
      layerNorm(out, `${p}.self_attn_layer_norm`, d);
      linear(out, `${p}.fc1`, ffn, d);
      linear(out, `${p}.fc2`, d, ffn);
      layerNorm(out, `${p}.final_layer_norm`, d);
    }
    layerNorm(out, 'model.layer_norm', d);
    return out;
  }
  out.push({ name: 'model.shared.weight', shape: [num(c, 'vocab_size'), d], kind: 'embedding' });
  const experts = num(c, 'num_experts');
  const routerBias = c.router_bias === true;
  for (const side of ['encoder', 'decoder'] as const) {
    const ffn = num(c, `${side}_ffn_dim`);
    const step = num(c, `${side}_sparse_step`);
    for (let i = 0; i < num(c, `${side}_layers`); i++) {
      const p = `model.${side}.layers.${i}`;
      attention(out, `${p}.self_attn`, d);
      layerNorm(out, `${p}.self_attn_layer_norm`, d);
      if (side === 'decoder') {
        attention(out, `${p}.cross_attention`, d);
        layerNorm(out, `${p}.cross_attention_layer_norm`, d);
      }
      // HF: layer i is sparse iff sparse_step > 0 and (i + 1) % sparse_step == 0
      if (step > 0 && (i + 1) % step === 0) {
        linear(out, `${p}.ffn.router.classifier`, experts, d, routerBias);
        for (let e = 0; e < experts; e++) {
          linear(out, `${p}.ffn.experts.expert_${e}.fc1`, ffn, d);
          linear(out, `${p}.ffn.experts.expert_${e}.fc2`, d, ffn);
        }
      } else {
        linear(out, `${p}.ffn.fc1`, ffn, d);
        linear(out, `${p}.ffn.fc2`, d, ffn);
      }
      layerNorm(out, `${p}.ff_layer_norm`, d);
    }
    layerNorm(out, `model.${side}.layer_norm`, d);
  }
  return out;
}

/** HF-initialised tensors (HF layout) for a config; data is generated lazily per tensor, in order. */
export function initHfTensors(arch: Arch, config: Record<string, unknown>, seed: number): HfTensorToWrite[] {
  const std = typeof config.init_std === 'number' ? config.init_std : 0.02;
  const pad = typeof config.pad_token_id === 'number' ? config.pad_token_id : 1;
  const rng = new Rng(seed);
  // Materialised eagerly in order: the lazy form would make values depend on write order.
  return hfParameterSpecs(arch, config).map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (s.kind === 'linear' || s.kind === 'embedding') for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    else if (s.kind === 'ln_weight') data.fill(1);
    if (s.kind === 'embedding' && pad >= 0 && pad < s.shape[0]) data.fill(0, pad * s.shape[1], (pad + 1) * s.shape[1]);
    return { name: s.name, shape: s.shape, data };
  });
}

/** Full HF config.json for a fresh model (HF defaults for every field not given). */
export function defaultHfConfig(arch: Arch, o: Record<string, unknown>): Record<string, unknown> {
  if (arch === 'xglm') {
    return {
      architectures: ['XGLMForCausalLM'],
      model_type: 'xglm',
      vocab_size: 256008,
      max_position_embeddings: 2048,
      d_model: 1024,
      ffn_dim: 4096,
      num_layers: 24,
      attention_heads: 16,
      activation_function: 'gelu',
      dropout: 0.1,
      attention_dropout: 0.1,
      activation_dropout: 0.0,
      layerdrop: 0.0,
      init_std: 0.02,
      scale_embedding: true,
      use_cache: true,
      decoder_start_token_id: 2,
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
      tie_word_embeddings: true,
      torch_dtype: 'float32',
      ...o,
    };
  }
  return {
    architectures: ['NllbMoeForConditionalGeneration'],
    model_type: 'nllb-moe',
    vocab_size: 128112,
    max_position_embeddings: 1024,
    d_model: 1024,
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
    dropout: 0.1,
    attention_dropout: 0.1,
    activation_dropout: 0.0,
    init_std: 0.02,
    decoder_start_token_id: 2,
    scale_embedding: true,
    router_bias: false,
    router_dtype: 'float32',
    router_ignore_padding_tokens: false,
    num_experts: 128,
    encoder_sparse_step: 4,
    decoder_sparse_step: 4,
    expert_capacity: 64,
    router_z_loss_coef: 0.001,
    router_aux_loss_coef: 0.001,
    second_expert_policy: 'all',
    normalize_router_prob_before_dropping: false,
    batch_prioritized_routing: false,
    moe_eval_capacity_token_fraction: 1.0,
    moe_token_dropout: 0.2,
    pad_token_id: 1,
    bos_token_id: 0,
    eos_token_id: 2,
    tie_word_embeddings: true,
    output_router_logits: false,
    torch_dtype: 'float32',
    ...o,
  };
}
