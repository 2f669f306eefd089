/**
 * Opening a model directory (or cached hub id) for generation: checkpoint + model + tokenizer,
 * with a clear error when the directory holds the other architecture.
 */
import { PolyglotError } from '../core/errors.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import type { HfCheckpoint } from '../convert/checkpoint.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { loadTokenizer } from '../tokenizers/load.js';
import type { XGLMTokenizer } from '../tokenizers/xglm.js';
import { readGenerationConfig, type GenerationDefaults } from './generation-config.js';
import type { NllbTokenizer } from '../tokenizers/nllb.js';
import type { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { nllbMoeFromCheckpoint } from '../models/nllb-moe/weights.js';
import { m2m100FromCheckpoint } from '../models/m2m-100/model.js';

function checkModelType(ck: HfCheckpoint, want: string, what: string): void {
  const t = ck.config.model_type;
  if (t !== want) {
    throw new PolyglotError(`${ck.dir}/config.json: model_type: expected "${want}" (${what}), found ${JSON.stringify(t)}`);
  }
}

export interface TextGenerator {
  model: XGLMForCausalLM;
  tokenizer: XGLMTokenizer;
  dir: string;
  /** generation_config.json defaults; pass `withDefaults(generationConfig, options)` to use them. */
  generationConfig: GenerationDefaults;
}

/** An XGLM checkpoint and its tokenizer (the directory must hold sentencepiece.bpe.model). */
export async function loadTextGenerator(dirOrModelId: string): Promise<TextGenerator> {
  const ck = openCheckpoint(dirOrModelId);
  checkModelType(ck, 'xglm', 'polyglot generate runs XGLM models; use polyglot translate for NLLB-MoE');
  const tokenizer = await loadTokenizer(ck.dir, { kind: 'xglm' });
  const model = XGLMForCausalLM.fromCheckpoint(ck);
  return { model, tokenizer: tokenizer as XGLMTokenizer, dir: ck.dir, generationConfig: readGenerationConfig(ck.dir) };
}

export interface Translator {
  model: NllbMoeForConditionalGeneration;
  tokenizer: NllbTokenizer;
  dir: string;
  /** generation_config.json defaults (e.g. max_length 200 in the NLLB checkpoints). */
  generationConfig: GenerationDefaults;
}

/** An NLLB-MoE checkpoint and its tokenizer. */
export async function loadTranslator(dirOrModelId: string): Promise<Translator> {
  const ck = openCheckpoint(dirOrModelId);
  if (ck.config.model_type !== 'm2m_100') checkModelType(ck, 'nllb-moe', 'polyglot translate runs NLLB-MoE models; use polyglot generate for XGLM');
  const tokenizer = await loadTokenizer(ck.dir, { kind: 'nllb' });
  const model = ck.config.model_type === 'm2m_100' ? m2m100FromCheckpoint(ck) : nllbMoeFromCheckpoint(ck);
  return { model, tokenizer: tokenizer as NllbTokenizer, dir: ck.dir, generationConfig: readGenerationConfig(ck.dir) };
}

