/**
 * Opens an HF model directory (any layout openCheckpoint handles) as a trainable model of the
 * architecture its config.json `model_type` names (models/registry.ts), with optional config
 * overrides (HF JSON keys, e.g. dropout) applied before the weights are loaded.
 */
import { openCheckpoint } from '../convert/open-checkpoint.js';
import type { HfCheckpoint } from '../convert/checkpoint.js';
import { loadModelFromCheckpoint, modelEntryFor, type LoadedModel, type RegisteredArchitecture } from '../models/registry.js';
import type { MoeLossMode } from '../losses/moe-losses.js';
import type { WeightsChoice } from '../layers/weight-precision.js';

export type { LoadedModel };

export interface LoadModelOptions {
  /** HF config.json keys to override (dropouts, expert_capacity, ...). */
  configOverrides?: Record<string, unknown>;
  /** NLLB-MoE training loss: 'standard' (Switch aux + z-loss, our default) or 'hf' (HF's formula, quirks included). */
  moeLoss?: MoeLossMode;
  /** Weight budget in GB: experts offloaded (inference only; models/pretrained.ts). */
  maxMemoryGB?: number;
  /**
   * Precision of the linear weights, applied while loading (`eval --weights`): int8 / 16-bit
   * weights go straight to native memory, no float32 copy of them on the heap. Inference only
   * (int8 / 16-bit linears are frozen; LoRA trains on them).
   */
  weights?: WeightsChoice;
}

/** The architecture a checkpoint's model_type names. */
export function archOf(ck: HfCheckpoint): RegisteredArchitecture['arch'] {
  return modelEntryFor(ck.config, `${ck.dir}/config.json`).architecture.arch;
}

export function loadModel(dirOrCk: string | HfCheckpoint, o: LoadModelOptions = {}): LoadedModel {
  const ck = typeof dirOrCk === 'string' ? openCheckpoint(dirOrCk) : dirOrCk;
  const loaded = loadModelFromCheckpoint(ck, { configOverrides: o.configOverrides, maxMemoryGB: o.maxMemoryGB, weights: o.weights });
  if (o.moeLoss && loaded.arch === 'nllb-moe') loaded.model.lossDefaults = { ...loaded.model.lossDefaults, moeLoss: o.moeLoss };
  return loaded;
}
