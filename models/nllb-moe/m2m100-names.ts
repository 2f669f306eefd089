/**
 * HF weight names of M2M100 (`modeling_m2m_100.py`) <-> the NLLB-MoE names our layers carry
 * (docs/m2m100.md, "Weight names"). Only four pieces differ, all inside a layer:
 *
 * | M2M100                                   | NLLB-MoE (dense layer)                      |
 * | `...layers.{i}.fc1.*`, `.fc2.*`          | `...layers.{i}.ffn.fc1.*`, `.ffn.fc2.*`     |
 * | `...layers.{i}.final_layer_norm.*`       | `...layers.{i}.ff_layer_norm.*`             |
 * | `...layers.{i}.encoder_attn.*`           | `...layers.{i}.cross_attention.*`           |
 * | `...layers.{i}.encoder_attn_layer_norm.*`| `...layers.{i}.cross_attention_layer_norm.*`|
 *
 * Everything else (`model.shared.weight`, its tied aliases, `lm_head.weight`, self-attention,
 * the final layer norms) is spelled the same.
 */

import { PolyglotError } from '../../core/errors.js';

const LAYER = /^(model\.(?:encoder|decoder)\.layers\.\d+\.)(.+)$/;

const M2M_TO_NLLB: [RegExp, string][] = [
  [/^fc([12])\.(weight|bias)$/, 'ffn.fc$1.$2'],
  [/^final_layer_norm\.(weight|bias)$/, 'ff_layer_norm.$1'],
  [/^encoder_attn_layer_norm\.(weight|bias)$/, 'cross_attention_layer_norm.$1'],
  [/^encoder_attn\.(.+)$/, 'cross_attention.$1'],
];

const NLLB_TO_M2M: [RegExp, string][] = [
  [/^ffn\.fc([12])\.(weight|bias)$/, 'fc$1.$2'],
  [/^ff_layer_norm\.(weight|bias)$/, 'final_layer_norm.$1'],
  [/^cross_attention_layer_norm\.(weight|bias)$/, 'encoder_attn_layer_norm.$1'],
  [/^cross_attention\.(.+)$/, 'encoder_attn.$1'],
];

function renameInLayer(name: string, rules: [RegExp, string][]): string {
  const m = LAYER.exec(name);
  if (!m) return name;
  for (const [re, to] of rules) if (re.test(m[2])) return m[1] + m[2].replace(re, to);
  return name;
}

/** An M2M100 state-dict name as the NLLB-MoE layers name it. */
export function m2m100ToNllbMoeName(name: string): string {
  return renameInLayer(name, M2M_TO_NLLB);
}

/** An NLLB-MoE (dense-layer) state-dict name as M2M100 names it; sparse names (router, experts) have no M2M100 spelling. */
export function nllbMoeToM2m100Name(name: string): string {
  if (/\.ffn\.(router|experts)\./.test(name)) throw new PolyglotError(`${name}: a sparse-layer weight has no M2M100 name`);
  return renameInLayer(name, NLLB_TO_M2M);
}

/**
 * Keys an M2M100 checkpoint may hold that the model does not load: the sinusoidal table
 * (`embed_positions.weights`, a non-persistent buffer in current transformers, saved by older
 * versions) and `final_logits_bias` (a zero buffer of early 2021 versions). HF ignores them.
 */
export function isIgnoredM2m100Key(name: string): boolean {
  return /^model\.(encoder|decoder)\.embed_positions\.(weights|_float_tensor)$/.test(name) || /^(model\.)?final_logits_bias$/.test(name);
}
