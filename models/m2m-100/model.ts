/**
 * M2M100ForConditionalGeneration (dense NLLB-200, M2M-100): the NLLB-MoE model in its all-dense
 * case (models/m2m-100/config.ts), reporting its parameters under M2M100's HF names
 * (models/m2m-100/names.ts). Loading, training checkpoints, `--freeze` globs, verify gradients
 * and the HF writer all see `model.encoder.layers.0.fc1.weight`, never the NLLB-MoE spelling;
 * the math, sessions and graph export are NLLB-MoE's.
 */
import type { HfCheckpoint } from '../../convert/checkpoint.js';
import { openCheckpoint } from '../../convert/open-checkpoint.js';
import type { NamedParameter } from '../../core/trainable.js';
import { NllbMoeForConditionalGeneration } from '../nllb-moe/model.js';
import { loadNllbMoeWeights } from '../nllb-moe/weights.js';
import { parseM2M100Config } from './config.js';
import { nllbMoeToM2m100Name } from './names.js';

export class M2M100ForConditionalGeneration extends NllbMoeForConditionalGeneration {
  override namedParameters(): NamedParameter[] {
    return super.namedParameters().map((p) => ({ ...p, name: nllbMoeToM2m100Name(p.name) }));
  }
}

/** A model from an opened m2m_100 checkpoint (any layout); `overrides` use HF JSON keys. */
export function m2m100FromCheckpoint(ck: HfCheckpoint, overrides: Record<string, unknown> = {}): M2M100ForConditionalGeneration {
  const model = new M2M100ForConditionalGeneration(parseM2M100Config(ck.config, `${ck.dir}/config.json`, overrides));
  try {
    // by name: M2M100 names, tied aliases (`.bin` keeps them) accepted for model.shared.weight;
    // `embed_positions.weights` / `final_logits_bias` keys are never asked for (HF ignores them too)
    loadNllbMoeWeights(model, ck.tensors, ck.dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** A model from a directory or cached HF model id. */
export function m2m100FromPretrained(dirOrModelId: string, overrides: Record<string, unknown> = {}): M2M100ForConditionalGeneration {
  return m2m100FromCheckpoint(openCheckpoint(dirOrModelId), overrides);
}
