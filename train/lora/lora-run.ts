/**
 * `polyglot train --lora`: wraps the loaded model in adapters (a LoraModel, which tells the trainer's
 * selectTrainable to optimise and checkpoint only the adapters plus `--train-only` parameters), and
 * writes the result as a peft adapter directory instead of a full model.
 */
import { LoraModel, type HfNaming } from './lora-model.js';
import { DEFAULT_LORA_TARGETS, peftTargetModules } from './targets.js';
import { peftTaskType, writePeftAdapter } from './peft-adapter.js';
import type { TrainableModel } from '../../core/trainable.js';
import type { PipelineTask } from '../../models/registry.js';

export interface LoraTrainOptions {
  r: number;
  alpha: number;
  dropout: number;
  /** Module names (peft suffix rule) or globs; default DEFAULT_LORA_TARGETS. */
  targets?: string[];
  useRslora?: boolean;
}

export interface LoraRun {
  model: LoraModel;
  /** Writes the trained adapter (peft format) to `dir`. */
  save(dir: string, trainedNames: string[]): void;
}

export function startLoraRun(base: TrainableModel, o: LoraTrainOptions, run: { seed: number; baseModel: string; task: PipelineTask; hfName?: HfNaming }): LoraRun {
  const targets = o.targets?.length ? o.targets : DEFAULT_LORA_TARGETS;
  const model = new LoraModel(base, { r: o.r, alpha: o.alpha, dropout: o.dropout, targetModules: peftTargetModules(targets), useRslora: o.useRslora }, run.seed, { hfName: run.hfName });
  return {
    model,
    save(dir, trainedNames) {
      const trained = new Set(trainedNames);
      const extraParameters = base.namedParameters().filter((p) => trained.has(p.name));
      writePeftAdapter(dir, model, { baseModelNameOrPath: run.baseModel, taskType: peftTaskType(run.task), extraParameters, overwrite: true });
    },
  };
}
