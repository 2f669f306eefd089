/**
 * One training run from options (what `polyglot train` and the demo call): loads the model
 * and its tokenizer, builds the data pipeline for the task (causal-lm for XGLM, translation
 * for NLLB-MoE), runs the Trainer with eval loss / perplexity and -- for translation --
 * chrF / BLEU of greedily decoded dev sentences, saves checkpoints, stops cleanly on SIGINT
 * (checkpoint first), and exports the result as an HF model directory.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { PolyglotError } from '../core/errors.js';
import { loadPretrainedTokenizer } from '../models/registry.js';
import { NllbTokenizer } from '../tokenizers/nllb.js';
import { XGLMTokenizer } from '../tokenizers/xglm.js';
import type { MoeLossMode } from '../losses/moe-losses.js';
import { causalLmData } from './data/causal-lm.js';
import { translationData, readTranslationPairs } from './data/translation.js';
import type { TrainingData } from './data/training-data.js';
import { loadModel, type LoadedModel } from './load-model.js';
import { Trainer, type TrainerConfig, type TrainSummary, type EvalResult } from './trainer.js';
import type { ScheduleName } from './schedules.js';
import { scoreTranslations, type DevPair } from './translate-eval.js';
import { exportHfModel } from './export-hf.js';

export type Task = 'causal-lm' | 'translation';

export interface TrainRunOptions {
  modelDir: string;
  data: string[];
  evalData?: string[];
  outDir: string;
  task?: Task;
  maxSteps?: number;
  epochs?: number;
  lr: number;
  batchSize: number;
  gradAccum: number;
  warmupSteps: number;
  schedule: ScheduleName;
  weightDecay: number;
  /** Decay biases and LayerNorm weights too (torch default; HF Trainer excludes them). */
  decayBiasAndNorm?: boolean;
  maxGradNorm: number;
  labelSmoothing: number;
  evalEvery: number;
  saveEvery: number;
  keep: number;
  resume?: string;
  seed: number;
  freeze?: string[];
  trainOnly?: string[];
  moeLoss?: MoeLossMode;
  /** Held-out fraction of --data when no --eval-data is given. */
  evalFraction?: number;
  /** Causal LM: max tokens per example (padded mode) / block size (packed mode). */
  maxLength: number;
  pack?: boolean;
  maxSourceLength?: number;
  maxTargetLength?: number;
  srcLang?: string;
  tgtLang?: string;
  /** Dev sentences decoded for chrF / BLEU at each evaluation (translation; 0 = none). */
  devTranslations: number;
  /** HF config overrides for training (e.g. {dropout: 0}). */
  configOverrides?: Record<string, unknown>;
  /** Write the final model as an HF directory (default <out>/model). */
  exportDir?: string | false;
  progress?: boolean;
  /** Stop after this many seconds of training (demo). */
  timeBudgetSeconds?: number;
  /** Print evaluations on stderr with the progress line (default true). */
  printEval?: boolean;
  /** Called after each evaluation (the demo prints examples). */
  onEval?: (step: number, ev: EvalResult) => void;
  onRecord?: (r: Record<string, unknown>) => void;
}

export interface TrainRunResult {
  summary: TrainSummary;
  exportDir?: string;
  loaded: LoadedModel;
  trainSize: number;
  evalSize: number;
  /** Latest dev translations (translation task). */
  samples: { src: string; ref: string; hyp: string }[];
}

function defaultTask(arch: LoadedModel['arch']): Task {
  return arch === 'xglm' ? 'causal-lm' : 'translation';
}

export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  for (const f of [...o.data, ...(o.evalData ?? [])]) if (!fs.existsSync(f)) throw new PolyglotError(`${f}: data file not found`);
  const loaded = loadModel(o.modelDir, { configOverrides: o.configOverrides, moeLoss: o.moeLoss });
  const task = o.task ?? defaultTask(loaded.arch);
  if (task === 'translation' && loaded.arch !== 'nllb-moe') throw new PolyglotError(`--task translation: needs an encoder-decoder (nllb-moe) model, ${o.modelDir} is ${loaded.arch}`);
  if (task === 'causal-lm' && loaded.arch !== 'xglm') throw new PolyglotError(`--task causal-lm: needs a decoder-only (xglm) model, ${o.modelDir} is ${loaded.arch}`);
  const tok = await loadPretrainedTokenizer(loaded.ck.dir, { srcLang: o.srcLang, tgtLang: o.tgtLang });
  const common = { files: o.data, evalFiles: o.evalData, evalFraction: o.evalData?.length ? undefined : (o.evalFraction ?? 0.02), batchSize: o.batchSize, seed: o.seed };
  let data: TrainingData;
  if (task === 'translation') {
    if (!(tok instanceof NllbTokenizer)) throw new PolyglotError(`${o.modelDir}: translation needs an NLLB tokenizer`);
    data = await translationData({ ...common, tokenizer: tok, maxSourceLength: o.maxSourceLength, maxTargetLength: o.maxTargetLength, srcLang: o.srcLang, tgtLang: o.tgtLang });
  } else {
    if (!(tok instanceof XGLMTokenizer)) throw new PolyglotError(`${o.modelDir}: causal-lm needs an XGLM tokenizer`);
    data = await causalLmData({ ...common, tokenizer: tok, mode: o.pack ? 'pack' : 'pad', blockSize: o.pack ? o.maxLength : undefined, maxLength: o.pack ? undefined : o.maxLength });
  }
  const bpe = data.train.batchesPerEpoch ?? Math.ceil(data.trainSize / o.batchSize);
  const stepsPerEpoch = Math.max(1, Math.ceil(bpe / o.gradAccum));
  const maxSteps = o.maxSteps ?? (o.epochs !== undefined ? Math.ceil(o.epochs * stepsPerEpoch) : undefined);
  if (maxSteps === undefined) throw new PolyglotError('train: give --max-steps or --epochs');

  // Dev sentences for chrF / BLEU: the first N lines of --eval-data (fixed, so scores are comparable across steps).
  let devPairs: DevPair[] = [];
  if (task === 'translation' && o.devTranslations > 0 && o.evalData?.length) {
    devPairs = await readTranslationPairs(o.evalData, { limit: o.devTranslations, srcLang: o.srcLang, tgtLang: o.tgtLang });
  }
  const samples: TrainRunResult['samples'] = [];
  const cfg: TrainerConfig = {
    maxSteps,
    lr: o.lr,
    weightDecay: o.weightDecay,
    excludeBiasAndNormFromDecay: !o.decayBiasAndNorm,
    schedule: o.schedule,
    warmupSteps: o.warmupSteps,
    gradAccum: o.gradAccum,
    maxGradNorm: o.maxGradNorm,
    seed: o.seed,
    labelSmoothing: o.labelSmoothing,
    evalEvery: o.evalEvery,
    saveEvery: o.saveEvery,
    keep: o.keep,
    outDir: o.outDir,
    trainOnly: o.trainOnly,
    freeze: o.freeze,
    resume: o.resume,
    progress: o.progress,
    plot: true,
    timeBudgetSeconds: o.timeBudgetSeconds,
    printEval: o.printEval,
  };
  const trainer = new Trainer(loaded.model, data.train, cfg, {
    evalBatches: data.evalBatches,
    onRecord: o.onRecord,
    extraEval:
      devPairs.length && loaded.arch === 'nllb-moe'
        ? async () => {
            const s = await scoreTranslations(loaded.model, tok as NllbTokenizer, devPairs);
            samples.length = 0;
            devPairs.forEach((p, i) => samples.push({ src: p.src, ref: p.tgt, hyp: s.hypotheses[i] }));
            return { chrf: s.chrf, bleu: s.bleu };
          }
        : undefined,
  });
  const origEval = trainer.evaluate.bind(trainer);
  trainer.evaluate = async () => {
    const ev = await origEval();
    if (ev) o.onEval?.(trainer.step, ev);
    return ev;
  };
  const onSigint = () => {
    process.stderr.write('\ninterrupt: saving a checkpoint after this step (Ctrl-C again to abort)\n');
    trainer.requestStop();
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  let summary: TrainSummary;
  try {
    summary = await trainer.run();
  } finally {
    process.removeListener('SIGINT', onSigint);
    data.close();
  }
  let exportDir: string | undefined;
  if (o.exportDir !== false && !summary.interrupted) {
    exportDir = path.resolve(o.exportDir ?? path.join(o.outDir, 'model'));
    exportHfModel(loaded.model, exportDir, { sourceDir: loaded.ck.dir, config: loaded.ck.config, overwrite: true, hfName: loaded.format.weights.hfName });
  }
  trainer.dispose();
  return { summary, exportDir, loaded, trainSize: data.trainSize, evalSize: data.evalSize, samples };
}
