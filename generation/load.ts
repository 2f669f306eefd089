/**
 * Opening a model directory (or hub id) for generation: model + tokenizer + generation_config.json,
 * with a clear error (before anything is allocated) when the directory holds a model of the other task.
 */
import { openPretrained } from '../convert/open-checkpoint.js';
import type { XGLMTokenizer } from '../tokenizers/xglm.js';
import { checkTokenizerFitsModel, isTranslationTokenizer, type TranslationTokenizer } from '../tokenizers/load.js';
import { PolyglotError } from '../core/errors.js';
import type { XGLMForCausalLM } from '../models/xglm/model.js';
import type { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import type { PretrainedOptions } from '../models/pretrained.js';
import type { CheckpointFormat } from '../models/checkpoint-format.js';
import { loadModelForTask, loadPretrainedTokenizer } from '../models/registry.js';
import { modelGenerationDefaults, type GenerationDefaults } from './generation-config.js';

export interface TextGenerator {
  model: XGLMForCausalLM;
  tokenizer: XGLMTokenizer;
  dir: string;
  /** The checkpoint's format (its HF weight names, e.g. for LoRA adapter keys). */
  format: CheckpointFormat<unknown>;
  /** generation_config.json defaults (generateText applies them; explicit options win). */
  generationConfig: GenerationDefaults;
}

/** A text-generation model (XGLM) and its tokenizer. */
export async function loadTextGenerator(idOrDir: string, options: PretrainedOptions = {}): Promise<TextGenerator> {
  const ck = await openPretrained(idOrDir, options);
  const tokenizer = (await loadPretrainedTokenizer(ck.dir)) as XGLMTokenizer;
  const { model, format } = loadModelForTask(ck, 'text-generation', options, '; use polyglot translate for translation models');
  return { model, tokenizer, dir: ck.dir, format, generationConfig: modelGenerationDefaults(model) };
}

export interface Translator {
  model: NllbMoeForConditionalGeneration;
  tokenizer: TranslationTokenizer;
  dir: string;
  /** The checkpoint's format (its HF weight names, e.g. for LoRA adapter keys). */
  format: CheckpointFormat<unknown>;
  /** generation_config.json defaults (translate applies them; explicit options win). */
  generationConfig: GenerationDefaults;
}

/** A translation model (NLLB-MoE, NLLB-200, M2M-100) and its tokenizer (NLLB or M2M-100). */
export async function loadTranslator(idOrDir: string, options: PretrainedOptions = {}): Promise<Translator> {
  const ck = await openPretrained(idOrDir, options);
  const tokenizer = await loadPretrainedTokenizer(ck.dir);
  // ids the model has no embedding row for: refused before the weights are allocated (config.json's number; else after parsing)
  const rawVocab = ck.config.vocab_size;
  if (isTranslationTokenizer(tokenizer) && typeof rawVocab === 'number') checkTokenizerFitsModel(tokenizer, rawVocab, ck.dir);
  // a model of the other task is refused here first, naming its model_type
  const { model, format } = loadModelForTask(ck, 'translation', options, '; use polyglot generate for text-generation models');
  try {
    if (!isTranslationTokenizer(tokenizer)) throw new PolyglotError(`${ck.dir}: a translation model needs an NLLB or M2M-100 tokenizer, found an XGLM one`);
    if (typeof rawVocab !== 'number') checkTokenizerFitsModel(tokenizer, model.config.vocabSize, ck.dir);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, tokenizer, dir: ck.dir, format, generationConfig: modelGenerationDefaults(model) };
}
