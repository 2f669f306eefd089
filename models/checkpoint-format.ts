/**
 * What a Hugging Face `model_type` means to this library: how its config.json is parsed, which
 * checkpoint tensor fills which parameter (and back, for writing HF directories), which tokenizer
 * it uses and how `polyglot info` summarises it. One `CheckpointFormat` per model_type; a model
 * class lists the formats it can be built from (`static formats`), and models/registry.ts maps
 * every model_type to its format and class.
 */
import { PolyglotError } from '../core/errors.js';
import type { NamedParameter } from '../core/trainable.js';
import type { TensorSource } from '../convert/checkpoint.js';

import type { TokenizerKind } from '../tokenizers/load.js';

export type { TokenizerKind };

/** The parameter names of a format, both directions. Our parameter names are those of the HF class the model mirrors. */
export interface WeightNaming<C> {
  /** The checkpoint tensor holding parameter `name` (read direction), or undefined when the checkpoint has none. */
  checkpointName(name: string, tensors: TensorSource, config: C): string | undefined;
  /** The state-dict name HF's save_pretrained writes for parameter `name` (write direction). */
  hfName(name: string): string;
  /**
   * After the model was built from the checkpoint: one PolyglotError naming the first problems
   * (missing, unexpected, mis-shaped or non-float tensors).
   */
  check(params: readonly NamedParameter[], tensors: TensorSource, source: string, config: C): void;
}

export interface CheckpointFormat<C> {
  /** config.json `model_type` (the canonical spelling). */
  modelType: string;
  /** Other spellings HF accepts for it (e.g. "nllb_moe"). */
  aliases: readonly string[];
  /** Human name, e.g. "NLLB-MoE". */
  label: string;
  /** config.json (+ HF-named overrides applied on top) -> the model's config; `source` names the file in errors. */
  parseConfig(json: Record<string, unknown>, source: string, overrides?: Record<string, unknown>): C;
  /**
   * Config against the checkpoint's tensor shapes (headers only), before anything is allocated:
   * a config promising a 10^12-element embedding fails here, not in the allocator.
   */
  checkShapes?(config: C, tensors: TensorSource, source: string): void;
  weights: WeightNaming<C>;
  /**
   * The tokenizer families this model_type accepts (a tokenizer_class naming another is refused);
   * the first is used when neither tokenizer_config.json nor config.json names a class.
   */
  tokenizerKinds: readonly TokenizerKind[];
  /** `polyglot info` rows (label -> value) from the raw config.json. */
  summarize(json: Record<string, unknown>): Record<string, string | number | boolean>;
}

/** Whether `format` reads config.json's `model_type` value. */
export function readsModelType(format: CheckpointFormat<unknown>, modelType: unknown): boolean {
  return modelType === format.modelType || format.aliases.includes(modelType as string);
}

/**
 * The format among `formats` for a config.json (by `model_type`; a config without one is read by
 * the first format, as HF's model classes read any config they are given).
 */
export function formatFor<F extends CheckpointFormat<unknown>>(formats: readonly F[], config: Record<string, unknown>, source: string, purpose?: string): F {
  const mt = config.model_type;
  if (mt === undefined && formats.length > 0) return formats[0];
  const f = formats.find((x) => readsModelType(x, mt));
  if (f) return f;
  const expected = formats.map((x) => `"${x.modelType}"`).join(' or ');
  throw new PolyglotError(`${source}: field "model_type": expected ${expected}${purpose ? ` (${purpose})` : ''}, found ${JSON.stringify(mt)}`);
}
