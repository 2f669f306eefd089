/**
 * The model registry: every config.json `model_type` this library reads, and what it means.
 *
 * An architecture is a model class (it runs the math, knows its `formats` and has
 * `fromPretrained`), the task it serves and its graph export. A format is one model_type
 * (models/checkpoint-format.ts: config parser, weight names both ways, tokenizer, info summary).
 * A registry entry is one (format, architecture) pair; the model_type -> entry lookup below is the
 * only place the library dispatches on model_type. Adding an architecture = a folder
 * models/<name>/ plus one line in ARCHITECTURES; adding a model_type to an existing class
 * (e.g. m2m_100 for the NLLB-MoE class) = a format in the class's `formats`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { readJsonFile, type HfCheckpoint } from '../convert/checkpoint.js';
import { openPretrained, resolvePretrained, type HubOptions } from '../convert/open-checkpoint.js';
import { describeCheckpoint, type CheckpointDescription } from '../convert/info.js';
import type { GraphExport } from '../ops/graph.js';
import { loadTokenizer, type LoadTokenizerOptions, type Tokenizer } from '../tokenizers/load.js';
import { readsModelType, type CheckpointFormat } from './checkpoint-format.js';
import { modelFromCheckpoint, type PretrainedClass, type PretrainedModel, type PretrainedOptions, type LoadOptions } from './pretrained.js';
import { XGLMForCausalLM } from './xglm/model.js';
import { xglmGraphExport } from './xglm/graphs.js';
import { NllbMoeForConditionalGeneration } from './nllb-moe/model.js';
import { nllbMoeGraphExport } from './nllb-moe/graphs.js';

/** What a model does, in pipeline() task names (transformers.js / HF). */
export type PipelineTask = 'text-generation' | 'translation';

export interface Architecture<A extends string, C, M extends PretrainedModel> {
  /** Our name of the model class family (also the `arch` of a loaded model). */
  arch: A;
  task: PipelineTask;
  modelClass: PretrainedClass<C, M>;
  graphExport: GraphExport<M>;
}

const XGLM: Architecture<'xglm', XGLMForCausalLM['config'], XGLMForCausalLM> = {
  arch: 'xglm',
  task: 'text-generation',
  modelClass: XGLMForCausalLM,
  graphExport: xglmGraphExport,
};

const NLLB_MOE: Architecture<'nllb-moe', NllbMoeForConditionalGeneration['config'], NllbMoeForConditionalGeneration> = {
  arch: 'nllb-moe',
  task: 'translation',
  modelClass: NllbMoeForConditionalGeneration,
  graphExport: nllbMoeGraphExport,
};

/** Every model class the library runs. */
export const ARCHITECTURES = [XGLM, NLLB_MOE] as const;

export type RegisteredArchitecture = (typeof ARCHITECTURES)[number];

/** A loaded model, discriminated by its architecture. */
export type LoadedModel =
  | { arch: 'xglm'; task: 'text-generation'; format: CheckpointFormat<unknown>; model: XGLMForCausalLM; ck: HfCheckpoint }
  | { arch: 'nllb-moe'; task: 'translation'; format: CheckpointFormat<unknown>; model: NllbMoeForConditionalGeneration; ck: HfCheckpoint };

export interface ModelEntry {
  format: CheckpointFormat<unknown>;
  architecture: RegisteredArchitecture;
}

/** One entry per model_type (formats in ARCHITECTURES order). */
export const MODEL_ENTRIES: readonly ModelEntry[] = ARCHITECTURES.flatMap((architecture) =>
  (architecture.modelClass.formats as readonly CheckpointFormat<unknown>[]).map((format) => ({ format, architecture })),
);

/** The model_types the library reads (canonical spellings). */
export const MODEL_TYPES: readonly string[] = MODEL_ENTRIES.map((e) => e.format.modelType);

/** The entry of a config.json `model_type`, or undefined for one the library does not know. */
export function findModelEntry(modelType: unknown): ModelEntry | undefined {
  return MODEL_ENTRIES.find((e) => readsModelType(e.format, modelType));
}

/** The entry of a config.json (`source` names it in the error; `purpose` e.g. " to export as a graph model"). */
export function modelEntryFor(config: Record<string, unknown>, source: string, purpose = ''): ModelEntry {
  const entry = findModelEntry(config.model_type);
  if (!entry) {
    throw new PolyglotError(`${source}: field "model_type": expected one of ${MODEL_TYPES.join(', ')}${purpose}, found ${JSON.stringify(config.model_type)}`);
  }
  return entry;
}

/** Any registered model from an opened checkpoint (the architecture chosen by model_type). */
export function loadModelFromCheckpoint(ck: HfCheckpoint, options: LoadOptions = {}, purpose = ''): LoadedModel {
  const { format, architecture } = modelEntryFor(ck.config, `${ck.dir}/config.json`, purpose);
  const model = modelFromCheckpoint(architecture.modelClass as PretrainedClass<unknown, PretrainedModel>, ck, options);
  return { arch: architecture.arch, task: architecture.task, format, model, ck } as LoadedModel;
}

/** A model of `task` from an opened checkpoint; one of another task is refused before anything is allocated. */
export function loadModelForTask<T extends PipelineTask>(ck: HfCheckpoint, task: T, options: LoadOptions = {}, hint = ''): Extract<LoadedModel, { task: T }> {
  const source = `${ck.dir}/config.json`;
  const { format, architecture } = modelEntryFor(ck.config, source);
  if (architecture.task !== task) {
    throw new PolyglotError(`${source}: field "model_type": expected a ${task} model, found ${JSON.stringify(format.modelType)} (${format.label}, a ${architecture.task} model)${hint}`);
  }
  return loadModelFromCheckpoint(ck, options) as Extract<LoadedModel, { task: T }>;
}

/** Any registered model from a model directory or hub id (HF's AutoModel.from_pretrained). */
export async function loadPretrainedModel(idOrDir: string, options: PretrainedOptions = {}, purpose = ''): Promise<LoadedModel> {
  return loadModelFromCheckpoint(await openPretrained(idOrDir, options), options, purpose);
}

/** The registry entry of a loaded model's architecture. */
export function architectureOf(loaded: LoadedModel): RegisteredArchitecture {
  return ARCHITECTURES.find((a) => a.arch === loaded.arch)!;
}

/** `polyglot info`: the checkpoint described with its model_type's own summary rows. */
export function describeModel(ck: HfCheckpoint): CheckpointDescription {
  const entry = findModelEntry(ck.config.model_type);
  return describeCheckpoint(ck, entry ? (json) => entry.format.summarize(json) : undefined);
}

/**
 * The tokenizer of a model directory or hub id (HF's AutoTokenizer.from_pretrained):
 * tokenizer_config.json `tokenizer_class` decides, else the tokenizer of config.json's model_type.
 */
export async function loadPretrainedTokenizer(idOrDir: string, options: LoadTokenizerOptions & HubOptions = {}): Promise<Tokenizer> {
  const dir = await resolvePretrained(idOrDir, options);
  const configPath = path.join(dir, 'config.json');
  const config = fs.existsSync(configPath) ? readJsonFile(configPath) : undefined;
  const modelType = config && typeof config === 'object' && !Array.isArray(config) ? (config as Record<string, unknown>).model_type : undefined;
  const kinds = findModelEntry(modelType)?.format.tokenizerKinds;
  return loadTokenizer(dir, { fallbackKind: kinds?.[0], allowedKinds: kinds, ...options });
}
