/**
 * `pipeline(task, idOrDir, options)` in the shape transformers.js gives it, for users coming from
 * there: `await pipeline('translation', dir)` returns a function `(text, { src_lang, tgt_lang })`
 * -> `[{ translation_text }]`; `'text-generation'` returns `(text, options)` -> `[{ generated_text }]`
 * (an array of texts gives one such list per text). The model's generation_config.json is the
 * default, explicit options win (HF generate()). `dispose()` frees the weights.
 */
import { PolyglotError } from '../core/errors.js';
import type { PretrainedOptions } from '../models/pretrained.js';
import type { PipelineTask } from '../models/registry.js';
import { generateText, type GenerateTextOptions } from './generate-text.js';
import { loadTextGenerator, loadTranslator, type TextGenerator, type Translator } from './load.js';
import { translate, type TranslateOptions } from './translate.js';

export interface GeneratedTextOutput {
  generated_text: string;
}

export interface TranslationOutput {
  translation_text: string;
}

/** HF / transformers.js `return_full_text`: true (default) gives the prompt as given + the continuation, false the continuation alone. */
export type TextGenerationPipelineOptions = GenerateTextOptions & { return_full_text?: boolean };

export interface TextGenerationPipeline extends TextGenerator {
  (text: string, options?: TextGenerationPipelineOptions): Promise<GeneratedTextOutput[]>;
  (texts: string[], options?: TextGenerationPipelineOptions): Promise<GeneratedTextOutput[][]>;
  task: 'text-generation';
  dispose(): void;
}

/** transformers.js names the languages `src_lang` / `tgt_lang`; ours are accepted too. */
export type TranslationPipelineOptions = Partial<TranslateOptions> & { src_lang?: string; tgt_lang?: string };

export interface TranslationPipeline extends Translator {
  (texts: string | string[], options: TranslationPipelineOptions): Promise<TranslationOutput[]>;
  task: 'translation';
  dispose(): void;
}

export async function pipeline(task: 'text-generation', idOrDir: string, options?: PretrainedOptions): Promise<TextGenerationPipeline>;
export async function pipeline(task: 'translation', idOrDir: string, options?: PretrainedOptions): Promise<TranslationPipeline>;
export async function pipeline(task: PipelineTask, idOrDir: string, options: PretrainedOptions = {}): Promise<TextGenerationPipeline | TranslationPipeline> {
  if (task === 'text-generation') {
    // A pipeline only generates: int8 / 16-bit embedding tables go straight to native memory.
    const g = await loadTextGenerator(idOrDir, { inference: true, ...options });
    const run = async (texts: string | string[], o: TextGenerationPipelineOptions = {}) => {
      const { return_full_text: fullText = true, ...options } = o;
      const list = typeof texts === 'string' ? [texts] : texts;
      const out = await generateText(g.model, g.tokenizer, list, options);
      const per = list.map((_, i) => out.filter((r) => r.prompt === i).map((r) => ({ generated_text: fullText ? r.text : r.completion })));
      return typeof texts === 'string' ? per[0] : per;
    };
    return Object.assign(run, g, { task, dispose: () => g.model.dispose() }) as TextGenerationPipeline;
  }
  if (task === 'translation') {
    const t = await loadTranslator(idOrDir, { inference: true, ...options });
    const run = async (texts: string | string[], o: TranslationPipelineOptions) => {
      const { src_lang, tgt_lang, ...rest } = o ?? {};
      const srcLang = rest.srcLang ?? src_lang;
      const tgtLang = rest.tgtLang ?? tgt_lang;
      if (!srcLang || !tgtLang) throw new PolyglotError('translation pipeline: expected options src_lang and tgt_lang (e.g. "eng_Latn", "fra_Latn" for NLLB, "en", "fr" for M2M-100)');
      const out = await translate(t.model, t.tokenizer, typeof texts === 'string' ? [texts] : texts, { ...rest, srcLang, tgtLang });
      return out.map((r) => ({ translation_text: r.text }));
    };
    return Object.assign(run, t, { task, dispose: () => t.model.dispose() }) as TranslationPipeline;
  }
  throw new PolyglotError(`pipeline: task: expected "text-generation" or "translation", found ${JSON.stringify(task)}`);
}
