import type { CommandModule } from 'yargs';
import { loadPeftAdapter, loadModel, loadPretrainedTokenizer, evaluateLoss, scoreTranslations, isTranslationTokenizer, checkTokenizerFitsModel, XGLMTokenizer, type TranslationTokenizer, PolyglotError, type EvalResult, type HostBatch } from '../../index.js';
import { causalLmData } from '../../train/data/causal-lm.js';
import { translationData, readTranslationPairs } from '../../train/data/translation.js';
import type { TrainingData } from '../../train/data/training-data.js';
import { formatEval } from '../train-progress.js';
import { withEvalProgress } from '../eval-progress.js';
import { warnPastPositionLimit } from '../position-limit.js';
import { batchWidth, maxPositionsOf } from '../../core/position-limit.js';
import { withBackend, startBackend, withWeights, applyWeights, withMaxMemory, maxMemoryOption, reportExpertCache, type BackendArgs, type WeightsArgs, type MaxMemoryArgs } from '../common.js';
import { adapterOption, type AdapterArgs } from '../lora-options.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface EvalArgs extends BackendArgs, ModelSourceArgs, WeightsArgs, AdapterArgs, MaxMemoryArgs {
  model: string;
  data: string[];
  'batch-size': number;
  'max-length': number;
  'moe-loss'?: string;
  translations: number;
  json: boolean;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: 'held-out loss and perplexity of a model on a file (translation: also chrF / BLEU of greedy translations)',
  builder: (y) =>
    withRevision(adapterOption(withMaxMemory(withWeights(withBackend(y)))))
      .option('model', { type: 'string', demandOption: true, describe: 'HF model directory or hub model id ORG/NAME' })
      .option('data', { type: 'string', array: true, demandOption: true, describe: 'text / JSONL (causal-lm) or JSONL pairs (translation)' })
      .option('batch-size', { type: 'number', default: 8 })
      .option('max-length', { type: 'number', default: 128, describe: 'causal-lm: tokens per example' })
      .option('moe-loss', { choices: ['standard', 'hf'], describe: 'NLLB-MoE loss parts to report' })
      .option('translations', { type: 'number', default: 64, describe: 'translation: sentences decoded for chrF / BLEU (0: none)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the metrics as JSON' }) as never,
  handler: async (args) => {
    await startBackend(args);
    // --weights applied while loading: int8 / 16-bit weights never exist as float32 on the heap.
    const loaded = loadModel(await modelDirOf(args.model, args), { moeLoss: args['moe-loss'] as 'standard' | 'hf' | undefined, weights: args.weights, ...maxMemoryOption(args) });
    if (args.adapter) {
      try {
        loadPeftAdapter(loaded.model, args.adapter, { hfName: loaded.format.weights.hfName });
      } catch (e) {
        loaded.model.dispose();
        throw e;
      }
    }
    applyWeights(loaded.model, args);
    const tok = await loadPretrainedTokenizer(loaded.ck.dir);
    const common = { files: args.data, evalFiles: args.data, batchSize: args['batch-size'], seed: 0, shuffle: false };
    let data: TrainingData;
    if (loaded.arch === 'nllb-moe') {
      if (!isTranslationTokenizer(tok)) throw new PolyglotError(`${args.model}: expected an NLLB or M2M-100 tokenizer, found an XGLM one`);
      checkTokenizerFitsModel(tok, loaded.model.config.vocabSize, loaded.ck.dir);
      data = await translationData({ ...common, tokenizer: tok });
    } else {
      if (!(tok instanceof XGLMTokenizer)) throw new PolyglotError(`${args.model}: expected an XGLM tokenizer`);
      data = await causalLmData({ ...common, tokenizer: tok, mode: 'pad', maxLength: args['max-length'] });
    }
    let res: EvalResult | undefined;
    try {
      const limit = maxPositionsOf(loaded.ck.config);
      const batches = data.evalBatches?.();
      res = batches ? evaluateLoss(loaded.model, warnLongBatches(args.quiet ? batches : withEvalProgress(batches, data.evalSize), limit)) : undefined;
    } finally {
      data.close();
    }
    if (!res) throw new PolyglotError(`${args.data.join(', ')}: no examples to evaluate`);
    if (loaded.arch === 'nllb-moe' && args.translations > 0) {
      const pairs = await readTranslationPairs(args.data, { limit: args.translations });
      if (!args.quiet) process.stderr.write(`eval: decoding ${pairs.length} sentences (greedy) for chrF / BLEU\n`);
      const s = await scoreTranslations(loaded.model, tok as TranslationTokenizer, pairs);
      res.chrf = s.chrf;
      res.bleu = s.bleu;
    }
    reportExpertCache(loaded.model, args);
    loaded.model.dispose();
    process.stdout.write(args.json ? `${JSON.stringify(res)}\n` : `${formatEval(0, res).replace('eval @ step 0: ', '')}\n`);
  },
};

/** Batches unchanged; the position warning when one's sequences (columns) pass the model's table. */
function* warnLongBatches(batches: Iterable<HostBatch>, limit: number): Generator<HostBatch> {
  for (const b of batches) {
    warnPastPositionLimit('an evaluation batch row', batchWidth(b.arrays), limit);
    yield b;
  }
}
