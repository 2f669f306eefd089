/**
 * NLLB-MoE weights by HF name. Safetensors checkpoints keep `model.shared.weight` and drop the
 * tied aliases (`lm_head.weight`, `model.{encoder,decoder}.embed_tokens.weight`); `.bin`
 * checkpoints keep all four names: any of them fills the shared embedding. Linear weights are
 * transposed to our `[in, out]` layout once, here.
 */
import { checkNllbMoeExpectedWeights } from './expected-weights.js';
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import type { HfCheckpoint, TensorSource } from '../../convert/checkpoint.js';
import { openCheckpoint } from '../../convert/open-checkpoint.js';
import { parseNllbMoeConfig } from './config.js';
import { NllbMoeForConditionalGeneration } from './model.js';

const SHARED_ALIASES = ['model.shared.weight', 'model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight', 'lm_head.weight'];

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Assigns every parameter of `model` from `source` (by HF name; tied aliases accepted). */
export function loadNllbMoeWeights(model: NllbMoeForConditionalGeneration, source: TensorSource, where = 'checkpoint'): void {
  for (const p of model.namedParameters()) {
    let name = p.name;
    if (name === 'model.shared.weight' && !source.has(name)) {
      // An untied lm_head (tie_word_embeddings false) is a parameter of its own, not an alias.
      const aliases = model.lmHead ? SHARED_ALIASES.slice(0, 3) : SHARED_ALIASES;
      const alias = aliases.find((n) => source.has(n));
      if (!alias) throw new PolyglotError(`${where}: no tensor "model.shared.weight" (nor its tied aliases ${SHARED_ALIASES.slice(1).join(', ')})`);
      name = alias;
    }
    if (!source.has(name)) {
      throw new PolyglotError(`${where}: missing tensor "${name}" (expected by an NLLB-MoE with this config.json)`);
    }
    const host = source.read(name);
    const expected = p.transposed ? [...p.variable.shape].reverse() : [...p.variable.shape];
    if (!sameShape(host.shape, expected as number[])) {
      throw new PolyglotError(`${where}: tensor "${name}": expected shape ${JSON.stringify(expected)}, found ${JSON.stringify(host.shape)}`);
    }
    if (!(host.data instanceof Float32Array)) {
      throw new PolyglotError(`${where}: tensor "${name}": expected a floating-point tensor, found dtype ${host.dtype}`);
    }
    const value = tf.tidy(() => {
      const t = tf.tensor(host.data as Float32Array, host.shape, 'float32');
      return p.transposed ? tf.transpose(t) : t;
    });
    p.variable.write(value);
    value.dispose();
  }
}

/** A model from an opened HF checkpoint (config.json + weights); `overrides` use HF JSON keys. */
export function nllbMoeFromCheckpoint(ck: HfCheckpoint, overrides: Record<string, unknown> = {}): NllbMoeForConditionalGeneration {
  const config = parseNllbMoeConfig(ck.config, `${ck.dir}/config.json`, overrides);
  checkNllbMoeExpectedWeights(config, ck.tensors, `${ck.dir}/config.json`);
  const model = new NllbMoeForConditionalGeneration(config);
  try {
    loadNllbMoeWeights(model, ck.tensors, ck.dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** A model from a directory or cached HF model id, in any layout openCheckpoint supports (safetensors, shards, .bin). */
export function nllbMoeFromPretrained(dirOrModelId: string, overrides: Record<string, unknown> = {}): NllbMoeForConditionalGeneration {
  return nllbMoeFromCheckpoint(openCheckpoint(dirOrModelId), overrides);
}
