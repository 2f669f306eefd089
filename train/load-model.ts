/**
 * Opens an HF model directory (any layout openCheckpoint handles) as a trainable model
 * of the right family, chosen by config.json `model_type`, with optional config overrides
 * (HF JSON keys, e.g. dropout) applied before the weights are loaded.
 */
import { PolyglotError } from '../core/errors.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import type { HfCheckpoint } from '../convert/checkpoint.js';
import { parseXGLMConfig, withConfigOverrides } from '../models/xglm/config.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { loadXGLMWeights } from '../models/xglm/weights.js';
import { nllbMoeFromCheckpoint } from '../models/nllb-moe/weights.js';
import { m2m100FromCheckpoint } from '../models/m2m-100/model.js';
import type { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import type { MoeLossMode } from '../losses/moe-losses.js';

export type LoadedModel =
  | { arch: 'xglm'; model: XGLMForCausalLM; ck: HfCheckpoint }
  | { arch: 'nllb-moe'; model: NllbMoeForConditionalGeneration; ck: HfCheckpoint };

export interface LoadModelOptions {
  /** HF config.json keys to override (dropouts, expert_capacity, ...). */
  configOverrides?: Record<string, unknown>;
  /** NLLB-MoE training loss: 'standard' (Switch aux + z-loss, our default) or 'hf' (HF's formula, quirks included). */
  moeLoss?: MoeLossMode;
}

export function archOf(ck: HfCheckpoint): 'xglm' | 'nllb-moe' {
  const mt = ck.config.model_type;
  if (mt === 'xglm') return 'xglm';
  if (mt === 'nllb-moe' || mt === 'nllb_moe' || mt === 'm2m_100') return 'nllb-moe';
  throw new PolyglotError(`${ck.dir}/config.json: field "model_type": expected "xglm" or "nllb-moe", found ${JSON.stringify(mt)}`);
}

export function loadModel(dirOrCk: string | HfCheckpoint, o: LoadModelOptions = {}): LoadedModel {
  const ck = typeof dirOrCk === 'string' ? openCheckpoint(dirOrCk) : dirOrCk;
  const arch = archOf(ck);
  if (arch === 'xglm') {
    const cfg = withConfigOverrides(parseXGLMConfig(ck.config, `${ck.dir}/config.json`), o.configOverrides, 'config overrides');
    const model = new XGLMForCausalLM(cfg);
    try {
      loadXGLMWeights(model, ck.tensors, ck.dir);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return { arch, model, ck };
  }
  const model = (ck.config.model_type === 'm2m_100' ? m2m100FromCheckpoint : nllbMoeFromCheckpoint)(ck, o.configOverrides ?? {});
  if (o.moeLoss) model.lossDefaults = { ...model.lossDefaults, moeLoss: o.moeLoss };
  return { arch, model, ck };
}
