import type { Argv, CommandModule } from 'yargs';
import { runTraining, parseScheduleName, formatEval, PolyglotError, type Task } from '../../index.js';
import { withBackend, startBackend, type BackendArgs } from '../common.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

export interface TrainArgs extends BackendArgs, ModelSourceArgs {
  model: string;
  data: string[];
  out: string;
  task?: string;
  'eval-data'?: string[];
  'max-steps'?: number;
  epochs?: number;
  lr: number;
  'batch-size': number;
  'grad-accum': number;
  'warmup-steps': number;
  schedule: string;
  'weight-decay': number;
  'decay-bias-norm': boolean;
  'max-grad-norm': number;
  'label-smoothing': number;
  'eval-every': number;
  'save-every': number;
  keep: number;
  resume?: string;
  seed: number;
  freeze?: string[];
  'train-only'?: string[];
  'moe-loss'?: string;
  'max-length': number;
  pack: boolean;
  'max-source-length'?: number;
  'max-target-length'?: number;
  'src-lang'?: string;
  'tgt-lang'?: string;
  'dev-translations': number;
  dropout?: number;
  set?: string[];
  'export-dir'?: string;
  export: boolean;
  progress: boolean;
}

/** Options shared by `train` and `demo`. */
export function trainOptions<T>(y: Argv<T>): Argv<T> {
  return y
    .option('task', { choices: ['causal-lm', 'translation'], describe: 'default: causal-lm for xglm, translation for nllb-moe' })
    .option('eval-data', { type: 'string', array: true, describe: 'held-out file(s) (default: 2% of --data)' })
    .option('max-steps', { type: 'number', describe: 'optimizer steps (or --epochs)' })
    .option('epochs', { type: 'number', describe: 'passes over --data (when --max-steps is not given)' })
    .option('lr', { type: 'number', default: 5e-4, describe: 'peak learning rate (AdamW)' })
    .option('batch-size', { type: 'number', default: 8, describe: 'examples per micro-batch' })
    .option('grad-accum', { type: 'number', default: 1, describe: 'micro-batches per optimizer step' })
    .option('warmup-steps', { type: 'number', default: 0, describe: 'linear warmup steps' })
    .option('schedule', { type: 'string', default: 'linear', describe: 'constant | linear | cosine | inverse_sqrt (HF formulas)' })
    .option('weight-decay', { type: 'number', default: 0.0, describe: 'AdamW decoupled weight decay (not on biases / LayerNorm, as HF Trainer)' })
    .option('decay-bias-norm', { type: 'boolean', default: false, describe: 'also decay biases and LayerNorm weights (torch AdamW over all parameters; HF Trainer excludes them)' })
    .option('max-grad-norm', { type: 'number', default: 1.0, describe: 'global gradient-norm clipping (0: off)' })
    .option('label-smoothing', { type: 'number', default: 0, describe: 'CrossEntropyLoss label_smoothing' })
    .option('eval-every', { type: 'number', default: 100, describe: 'evaluate every N steps (0: never)' })
    .option('save-every', { type: 'number', default: 0, describe: 'checkpoint every N steps (0: only on Ctrl-C)' })
    .option('keep', { type: 'number', default: 2, describe: 'checkpoints kept' })
    .option('resume', { type: 'string', describe: 'continue from a checkpoint (or an --out folder: its newest checkpoint)' })
    .option('seed', { type: 'number', default: 42, describe: 'seed of shuffling, dropout and routing noise' })
    .option('freeze', { type: 'string', array: true, describe: 'HF parameter-name globs not to train (* within a dotted segment, ** across)' })
    .option('train-only', { type: 'string', array: true, describe: 'train only parameters matching these globs, e.g. "**.experts.**" "**.router.**"' })
    .option('moe-loss', { choices: ['standard', 'hf'], describe: 'NLLB-MoE: standard (Switch aux + z-loss, default) or hf (HF formula, quirks included)' })
    .option('max-length', { type: 'number', default: 128, describe: 'causal-lm: tokens per example (block size with --pack)' })
    .option('pack', { type: 'boolean', default: false, describe: 'causal-lm: pack documents into fixed blocks' })
    .option('max-source-length', { type: 'number', describe: 'translation: source ids per example (truncate)' })
    .option('max-target-length', { type: 'number', describe: 'translation: target ids per example (truncate)' })
    .option('src-lang', { type: 'string', describe: 'translation: source language for lines without one' })
    .option('tgt-lang', { type: 'string', describe: 'translation: target language for lines without one' })
    .option('dev-translations', { type: 'number', default: 32, describe: 'translation: dev sentences decoded for chrF/BLEU at each evaluation' })
    .option('set', { type: 'string', array: true, describe: 'override config.json fields for training, e.g. --set expert_capacity=64 moe_token_dropout=0 (JSON values)' })
    .option('dropout', { type: 'number', describe: 'override every dropout of the config (HF dropout, attention_dropout, activation_dropout)' })
    .option('export-dir', { type: 'string', describe: 'where to write the final HF model (default <out>/model)' })
    .option('export', { type: 'boolean', default: true, describe: 'export the final model as an HF directory (--no-export: skip)' })
    .option('progress', { type: 'boolean', default: true, describe: 'progress line on stderr' });
}

export function configOverrides(dropout: number | undefined, set: string[] | undefined): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  if (dropout !== undefined) {
    if (!(dropout >= 0 && dropout < 1)) throw new PolyglotError(`--dropout: expected a probability in [0, 1), found ${dropout}`);
    Object.assign(out, { dropout, attention_dropout: dropout, activation_dropout: dropout });
  }
  for (const kv of set ?? []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(kv);
    if (!m) throw new PolyglotError(`--set ${kv}: expected key=value (a config.json field and a JSON value)`);
    let v: unknown;
    try {
      v = JSON.parse(m[2]);
    } catch {
      v = m[2];
    }
    out[m[1]] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

function positiveInt(name: string, v: number | undefined, min = 1): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) throw new PolyglotError(`--${name}: expected an integer >= ${min}, found ${v}`);
}

export async function trainHandler(args: TrainArgs): Promise<void> {
  positiveInt('batch-size', args['batch-size']);
  positiveInt('grad-accum', args['grad-accum']);
  positiveInt('max-steps', args['max-steps']);
  positiveInt('eval-every', args['eval-every'], 0);
  positiveInt('save-every', args['save-every'], 0);
  positiveInt('keep', args.keep);
  positiveInt('warmup-steps', args['warmup-steps'], 0);
  if (!(args['label-smoothing'] >= 0 && args['label-smoothing'] < 1)) throw new PolyglotError(`--label-smoothing: expected a value in [0, 1), found ${args['label-smoothing']}`);
  await startBackend(args);
  const r = await runTraining({
    modelDir: await modelDirOf(args.model, args),
    data: args.data,
    evalData: args['eval-data'],
    outDir: args.out,
    task: args.task as Task | undefined,
    maxSteps: args['max-steps'],
    epochs: args.epochs,
    lr: args.lr,
    batchSize: args['batch-size'],
    gradAccum: args['grad-accum'],
    warmupSteps: args['warmup-steps'],
    schedule: parseScheduleName(args.schedule),
    weightDecay: args['weight-decay'],
    decayBiasAndNorm: args['decay-bias-norm'],
    maxGradNorm: args['max-grad-norm'],
    labelSmoothing: args['label-smoothing'],
    evalEvery: args['eval-every'],
    saveEvery: args['save-every'],
    keep: args.keep,
    resume: args.resume,
    seed: args.seed,
    freeze: args.freeze,
    trainOnly: args['train-only'],
    moeLoss: args['moe-loss'] as 'standard' | 'hf' | undefined,
    maxLength: args['max-length'],
    pack: args.pack,
    maxSourceLength: args['max-source-length'],
    maxTargetLength: args['max-target-length'],
    srcLang: args['src-lang'],
    tgtLang: args['tgt-lang'],
    devTranslations: args['dev-translations'],
    configOverrides: configOverrides(args.dropout, args.set),
    exportDir: args.export ? args['export-dir'] : false,
    progress: args.progress && !args.quiet,
  });
  const s = r.summary;
  const last = s.evals[s.evals.length - 1];
  process.stdout.write(`${s.interrupted ? 'interrupted' : 'finished'} at step ${s.step}: train loss ${s.lastLoss.toFixed(4)}, ${s.tokensPerSecond.toFixed(0)} tokens/s\n`);
  if (last) process.stdout.write(`${formatEval(last.step, last.metrics)}\n`);
  if (s.checkpoint) process.stdout.write(`checkpoint: ${s.checkpoint}\n`);
  process.stdout.write(`metrics: ${s.metricsFile}\n`);
  if (s.plotFile) process.stdout.write(`loss curve: ${s.plotFile}\n`);
  if (r.exportDir) process.stdout.write(`model: ${r.exportDir}\n`);
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'fine-tune an XGLM (causal LM) or NLLB-MoE (translation) model',
  builder: (y) =>
    trainOptions(
      withRevision(withBackend(y))
        .option('model', { type: 'string', demandOption: true, describe: 'HF model directory, or hub model id ORG/NAME (downloaded into the hub cache when missing)' })
        .option('data', { type: 'string', array: true, demandOption: true, describe: 'training file(s): text / JSONL lines (causal-lm) or JSONL {src, tgt, src_lang, tgt_lang} (translation)' })
        .option('out', { type: 'string', demandOption: true, describe: 'output folder: metrics.jsonl, loss.png, checkpoints/, model/' }),
    ) as never,
  handler: trainHandler,
};
