import type { Argv, CommandModule } from 'yargs';
import { runTraining, trainingCliOptions, trainingOptionsFromArgs, PolyglotError, type TrainRunHooks, type TrainRunOptions } from '../../index.js';
import { withBackend, startBackend, type BackendArgs } from '../common.js';
import { formatEval, progressHooks } from '../train-progress.js';
import { signalExitCode, stopOnSignals } from '../stop-signals.js';

import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

/** CLI-only options; the training options themselves come from train/options.ts. */
export interface TrainArgs extends BackendArgs, ModelSourceArgs {
  model: string;
  data: string[];
  out: string;
  dropout?: number;
  set?: string[];
  'export-dir'?: string;
  export: boolean;
  progress: boolean;
  [flag: string]: unknown;
}

/** The training options (one table, train/options.ts), for `train` and `demo`. */
export function trainOptions<T>(y: Argv<T>, only?: readonly string[]): Argv<T> {
  let out = y;
  for (const d of trainingCliOptions()) if (!only || only.includes(d.key)) out = out.option(d.flag, d.options as never) as Argv<T>;
  return out;
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

/**
 * Runs training with progress on stderr, checkpoint-then-exit on SIGINT / SIGTERM, and the
 * next steps printed after a stop. Returns the process exit code (0, or 130 / 143 after a signal).
 */
export async function runTrainingFromCli(o: TrainRunOptions, show: { progress: boolean; printEval: boolean; quiet: boolean }, extra: TrainRunHooks = {}): Promise<{ code: number; result: Awaited<ReturnType<typeof runTraining>> }> {
  const stop = stopOnSignals((sig) => process.stderr.write(`\n${sig}: saving a checkpoint after the current step (${sig} again: stop at once, unsaved)\n`));
  try {
    const result = await runTraining({ ...o, stopSignal: stop.signal, hooks: progressHooks({ ...show }, extra) });
    const sig = stop.received();
    const s = result.summary;
    if (sig && s.interrupted) {
      const resume = s.checkpoint ? `continue: the same command with --resume ${o.outDir}` : 'nothing was saved (no step had completed)';
      process.stderr.write(`stopped by ${sig} at step ${s.step}. ${resume}\n`);
      if (s.checkpoint) process.stderr.write(`model of this step: polyglot export-hf --model ${o.modelDir} --checkpoint ${s.checkpoint} --out <folder>\n`);
      return { code: signalExitCode(sig), result };
    }
    return { code: 0, result };
  } finally {
    stop.dispose();
  }
}

export async function trainHandler(args: TrainArgs): Promise<void> {
  await startBackend(args);
  const { code, result: r } = await runTrainingFromCli(
    {
      ...trainingOptionsFromArgs(args),
      modelDir: await modelDirOf(args.model, args),
      data: args.data,
      outDir: args.out,
      configOverrides: configOverrides(args.dropout, args.set),
      exportDir: args.export ? args['export-dir'] : false,
    },
    { progress: args.progress && !args.quiet, printEval: true, quiet: args.quiet === true },
  );
  const s = r.summary;
  const last = s.evals[s.evals.length - 1];
  process.stdout.write(`${s.interrupted ? 'interrupted' : 'finished'} at step ${s.step}: train loss ${s.lastLoss.toFixed(4)}, ${s.tokensPerSecond.toFixed(0)} tokens/s\n`);
  if (last) process.stdout.write(`${formatEval(last.step, last.metrics)}\n`);
  if (s.checkpoint) process.stdout.write(`checkpoint: ${s.checkpoint}\n`);
  process.stdout.write(`metrics: ${s.metricsFile}\n`);
  if (s.plotFile) process.stdout.write(`loss curve: ${s.plotFile}\n`);
  if (r.exportDir) process.stdout.write(`${r.lora ? 'adapter' : 'model'}: ${r.exportDir}\n`);
  r.lora?.model.detach();
  r.loaded.model.dispose();
  if (code !== 0) process.exitCode = code;
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'fine-tune an XGLM (causal LM) or NLLB-MoE (translation) model',
  builder: (y) =>
    trainOptions(
      withRevision(withBackend(y))
        .option('model', { type: 'string', demandOption: true, describe: 'HF model directory, or hub model id ORG/NAME (downloaded into the hub cache when missing)' })
        .option('data', { type: 'string', array: true, demandOption: true, describe: 'training file(s): text / JSONL lines (causal-lm) or JSONL {src, tgt, src_lang, tgt_lang} (translation)' })
        .option('out', { type: 'string', demandOption: true, describe: 'output folder: metrics.jsonl, loss.png + loss.svg, checkpoints/, model/ (must be new or empty, unless --resume / --force)' })
        .option('set', { type: 'string', array: true, describe: 'override config.json fields for training, e.g. --set expert_capacity=64 moe_token_dropout=0 (JSON values)' })
        .option('dropout', { type: 'number', describe: 'override every dropout of the config (HF dropout, attention_dropout, activation_dropout)' })
        .option('export-dir', { type: 'string', describe: 'where to write the final HF model (default <out>/model; an existing folder needs --force)' })
        .option('export', { type: 'boolean', default: true, describe: 'export the final model as an HF directory (--no-export: skip)' })
        .option('progress', { type: 'boolean', default: true, describe: 'progress line on stderr' }),
    ) as never,
  handler: trainHandler,
};
