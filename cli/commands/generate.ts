import type { Argv, CommandModule } from 'yargs';
import { adapterOption, type AdapterArgs } from '../lora-options.js';
import { withBackend, startBackend, withWeights, applyWeights, withMaxMemory, maxMemoryOption, type BackendArgs, type WeightsArgs, type MaxMemoryArgs } from '../common.js';
import { warnPastPositionLimit } from '../position-limit.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';
import { loadPeftAdapter, generateText, loadTextGenerator, PolyglotError, TextStreamer, withDefaults, type GenerateOptions } from '../../index.js';

/** The decoding options shared by `generate` and `translate` (HF generate() arguments). */
export interface DecodingArgs {
  'max-new-tokens'?: number;
  'min-new-tokens'?: number;
  'do-sample'?: boolean;
  temperature?: number;
  'top-k'?: number;
  'top-p'?: number;
  seed?: number;
  'num-beams'?: number;
  'length-penalty'?: number;
  'early-stopping'?: string;
  'num-return-sequences'?: number;
  'repetition-penalty'?: number;
  'block-ngram-repeats'?: number;
}

/** Unset flags fall back to the model's generation_config.json, then to the command's defaults. */
export function withDecoding<T>(y: Argv<T>, maxNewDefault: number): Argv<T & DecodingArgs> {
  return y
    .option('max-new-tokens', { type: 'number', describe: `tokens to generate at most (default: generation_config.json max_length, else ${maxNewDefault})` })
    .option('min-new-tokens', { type: 'number', describe: 'suppress eos until this many new tokens exist' })
    .option('do-sample', { type: 'boolean', describe: 'sample instead of greedy / beam search' })
    .option('temperature', { type: 'number', describe: 'sampling temperature (> 0)' })
    .option('top-k', { type: 'number', describe: 'sampling: keep the k most likely tokens (HF default 50; 0 = off)' })
    .option('top-p', { type: 'number', describe: 'sampling: keep the smallest set of most likely tokens with mass >= p' })
    .option('seed', { type: 'number', describe: 'sampling seed (same seed, same output)' })
    .option('num-beams', { type: 'number', describe: 'beam search with this many beams (default 1)' })
    .option('length-penalty', { type: 'number', describe: 'beam score = sum log p / length ** this (default 1)' })
    .option('early-stopping', { choices: ['true', 'false', 'never'], describe: 'beam search stopping rule (HF early_stopping, default false)' })
    .option('num-return-sequences', { type: 'number', describe: 'outputs per input (<= num-beams, or with --do-sample)' })
    .option('repetition-penalty', { type: 'number', describe: 'HF repetition_penalty (> 1 discourages repeats)' })
    .option('block-ngram-repeats', { type: 'number', describe: 'HF no_repeat_ngram_size: never repeat an n-gram of this size' }) as unknown as Argv<T & DecodingArgs>;
}

export function decodingOptions(a: DecodingArgs): GenerateOptions {
  const num = (v: number | undefined, flag: string): number | undefined => {
    if (v !== undefined && Number.isNaN(v)) throw new PolyglotError(`--${flag}: expected a number`);
    return v;
  };
  return {
    maxNewTokens: num(a['max-new-tokens'], 'max-new-tokens'),
    minNewTokens: num(a['min-new-tokens'], 'min-new-tokens'),
    doSample: a['do-sample'],
    temperature: num(a.temperature, 'temperature'),
    topK: num(a['top-k'], 'top-k'),
    topP: num(a['top-p'], 'top-p'),
    seed: num(a.seed, 'seed'),
    numBeams: num(a['num-beams'], 'num-beams'),
    lengthPenalty: num(a['length-penalty'], 'length-penalty'),
    earlyStopping: a['early-stopping'] === undefined ? undefined : a['early-stopping'] === 'never' ? 'never' : a['early-stopping'] === 'true',
    numReturnSequences: num(a['num-return-sequences'], 'num-return-sequences'),
    repetitionPenalty: num(a['repetition-penalty'], 'repetition-penalty'),
    noRepeatNgramSize: num(a['block-ngram-repeats'], 'block-ngram-repeats'),
  };
}

interface Args extends BackendArgs, DecodingArgs, ModelSourceArgs, WeightsArgs, AdapterArgs, MaxMemoryArgs {
  model: string;
  prompt: string[];
  json: boolean;
}

export const generateCommand: CommandModule<object, Args> = {
  command: 'generate',
  describe: 'continue text prompts with an XGLM model (streams tokens for a single prompt)',
  builder: (y) =>
    withRevision(withDecoding(adapterOption(withMaxMemory(withWeights(withBackend(y)))), 20))
      .option('model', { type: 'string', demandOption: true, describe: 'XGLM model directory or Hugging Face model id (ORG/NAME, downloaded into the hub cache when missing)' })
      .option('prompt', { type: 'string', array: true, demandOption: true, describe: 'prompt text (repeat for a batch)' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON record per output' }) as never,
  handler: async (args) => {
    await startBackend(args);
    const prompts = args.prompt.map(String);
    const { model, tokenizer, generationConfig, format } = await loadTextGenerator(await modelDirOf(args.model, args), { weights: args.weights, ...maxMemoryOption(args), inference: args.adapter === undefined });
    applyWeights(model, args);
    try {
      if (args.adapter) loadPeftAdapter(model, args.adapter, { hfName: format.weights.hfName });
      const limit = model.config.maxPositionEmbeddings;
      warnPastPositionLimit('a prompt', Math.max(...prompts.map((p) => tokenizer.encode(p).length)), limit);
      const opts = withDefaults(generationConfig, decodingOptions(args));
      const stream = prompts.length === 1 && (opts.numBeams ?? 1) === 1 && (opts.numReturnSequences ?? 1) === 1 && !args.json;
      let onToken: GenerateOptions['onToken'];
      let started = false;
      if (stream) {
        const promptIds = tokenizer.encode(prompts[0]);
        const streamer = new TextStreamer(tokenizer, (piece) => process.stdout.write(piece), promptIds);
        let done = false;
        onToken = (e) => {
          if (done) return;
          if (!started) {
            // the prompt as typed (not its decoding), once the options have been accepted and the model runs;
            // the streamer then prints what the new ids add to the decoded prompt (HF pipeline)
            process.stdout.write(prompts[0]);
            started = true;
          }
          streamer.put(e.tokens[0]);
          done = e.finished[0];
        };
      }
      const t0 = Date.now();
      const out = await generateText(model, tokenizer, prompts, { ...opts, onToken });
      const secs = (Date.now() - t0) / 1000;
      warnPastPositionLimit('a prompt with its continuation', Math.max(...out.map((o) => o.ids.length)), limit);
      if (stream) {
        if (!started) process.stdout.write(out[0].text); // nothing was streamed
        process.stdout.write('\n');
      } else if (args.json) {
        for (const o of out) process.stdout.write(JSON.stringify({ prompt: o.prompt, text: o.text, completion: o.completion, ids: o.ids, new_ids: o.newIds, score: o.score }) + '\n');
      } else {
        const perPrompt = out.length / prompts.length;
        out.forEach((o, i) => {
          const label = perPrompt > 1 ? `[${o.prompt}.${i % perPrompt}] ` : out.length > 1 ? `[${o.prompt}] ` : '';
          process.stdout.write(`${label}${o.text}\n`);
        });
      }
      if (!args.quiet) {
        const n = out.reduce((s, o) => s + o.newIds.length, 0);
        process.stderr.write(`${n} new tokens in ${secs.toFixed(2)} s (${(n / Math.max(secs, 1e-9)).toFixed(1)} tokens/s)\n`);
      }
    } finally {
      model.dispose();
    }
  },
};
