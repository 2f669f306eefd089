/**
 * One training run from options (what `polyglot train` and the demo call): loads the model
 * and its tokenizer, builds the data pipeline for the task (causal-lm for XGLM, translation
 * for NLLB-MoE), runs the Trainer with eval loss / perplexity and -- for translation --
 * chrF / BLEU of greedily decoded held-out sentences, saves checkpoints, stops cleanly when
 * its stop signal is aborted (checkpoint first), and exports the result as an HF model directory
 * (with --lora: trains adapters on the frozen base and writes them as a peft adapter directory).
 * On wasm a run whose estimated step cannot fit the heap is refused before it starts (memory-plan.ts).
 * The output folder is locked for the run and refused when it holds another run (run-folder.ts).
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { PolyglotError } from '../core/errors.js';
import { loadPretrainedTokenizer } from '../models/registry.js';
import { NllbTokenizer } from '../tokenizers/nllb.js';
import { XGLMTokenizer } from '../tokenizers/xglm.js';
import { causalLmData } from './data/causal-lm.js';
import { translationData } from './data/translation.js';
import { translationRecord } from './data/records.js';
import type { TrainingData } from './data/training-data.js';
import { loadModel, type LoadedModel } from './load-model.js';
import { Trainer, type TrainerConfig, type TrainerHooks, type TrainSummary } from './trainer.js';
import { resolveTrainingOptions, type TrainingOptionValues } from './options.js';
import { checkExportDir, openRunFolder } from './run-folder.js';
import { resolveCheckpoint } from '../checkpoints/training-checkpoint.js';
import { resolveModelDir } from '../convert/open-checkpoint.js';
import { checkOverrideFields } from './config-overrides.js';
import { scoreTranslations, type DevPair } from './translate-eval.js';
import { exportHfModel } from './export-hf.js';
import { tf } from '../core/tf.js';
import { distinctParameters } from '../core/trainable.js';
import { checkFits, WASM_HEAP_BYTES, type ShapeForMemory } from './memory-plan.js';
import { startLoraRun, type LoraRun } from './lora/lora-run.js';
import { batchWidth, maxPositionsOf, pastPositionLimitMessage } from '../core/position-limit.js';

export type Task = 'causal-lm' | 'translation';

/** What a run reports before its first step. */
export interface RunStartReport {
  task: Task;
  examples: number;
  heldOut: number;
  stepsPerEpoch: number;
  /** Examples per optimizer step (batch size x gradient accumulation). */
  effectiveBatch: number;
  maxSteps: number;
  firstStep: number;
  trainableParameters: number;
  parameters: number;
}

export interface TrainRunHooks extends Pick<TrainerHooks, 'onStep' | 'onEval' | 'onCheckpoint' | 'onWarning' | 'onRecord'> {
  onStart?: (r: RunStartReport) => void;
}

/** The run's folders and data; training options (train/options.ts) default from the one table. */
export interface TrainRunOptions extends Partial<TrainingOptionValues> {
  modelDir: string;
  data: string[];
  outDir: string;
  /** Held-out fraction of --data when no --eval-data is given (default 0.02). */
  evalFraction?: number;
  /** HF config overrides for training (e.g. {dropout: 0}). */
  configOverrides?: Record<string, unknown>;
  /** Write the final model as an HF directory (default <out>/model); false: do not. */
  exportDir?: string | false;
  /** Stop after this many seconds of training (demo). */
  timeBudgetSeconds?: number;
  /** Aborting it stops the run after the current micro-batch, with a checkpoint (the CLI aborts on SIGINT / SIGTERM). */
  stopSignal?: AbortSignal;
  hooks?: TrainRunHooks;
}

export interface TrainRunResult {
  summary: TrainSummary;
  exportDir?: string;
  loaded: LoadedModel;
  /** With --lora: the adapters (still attached to loaded.model). */
  lora?: LoraRun;
  trainSize: number;
  evalSize: number;
  /** Latest dev translations (translation task). */
  samples: { src: string; ref: string; hyp: string }[];
}

function defaultTask(arch: LoadedModel['arch']): Task {
  return arch === 'xglm' ? 'causal-lm' : 'translation';
}

export async function runTraining(opts: TrainRunOptions): Promise<TrainRunResult> {
  const o = { ...opts, ...resolveTrainingOptions(opts) };
  for (const f of [...o.data, ...(o.evalData ?? [])]) if (!fs.existsSync(f)) throw new PolyglotError(`${f}: data file not found`);
  if (!o.lora && o.loraTargets?.length) throw new PolyglotError('--lora-targets: needs --lora');
  if (o.resume !== undefined) resolveCheckpoint(o.resume); // a wrong --resume fails before anything loads
  const folder = openRunFolder(o.outDir, { resume: o.resume, force: o.force });
  let data: TrainingData | undefined;
  try {
    const configFile = path.join(resolveModelDir(o.modelDir), 'config.json');
    const rawConfig = o.configOverrides && fs.existsSync(configFile) ? readJsonObject(configFile) : undefined;
    if (rawConfig) checkOverrideFields(o.configOverrides, rawConfig, configFile);
    const loaded = loadModel(o.modelDir, { configOverrides: o.configOverrides, moeLoss: o.moeLoss });
    const defaultExport = o.exportDir === undefined;
    const exportTarget = o.exportDir === false ? undefined : path.resolve(o.exportDir ?? path.join(o.outDir, o.lora ? 'adapter' : 'model'));
    if (exportTarget) checkExportDir(exportTarget, loaded.ck.dir, { force: o.force, ownedByRun: defaultExport });
    const task = o.task ?? defaultTask(loaded.arch);
    if (task === 'translation' && loaded.arch !== 'nllb-moe') throw new PolyglotError(`--task translation: needs an encoder-decoder (nllb-moe) model, ${o.modelDir} is ${loaded.arch}`);
    if (task === 'causal-lm' && loaded.arch !== 'xglm') throw new PolyglotError(`--task causal-lm: needs a decoder-only (xglm) model, ${o.modelDir} is ${loaded.arch}`);
    const tok = await loadPretrainedTokenizer(loaded.ck.dir, { srcLang: o.srcLang, tgtLang: o.tgtLang });
    const common = { files: o.data, evalFiles: o.evalData, evalFraction: o.evalData?.length ? undefined : (o.evalFraction ?? 0.02), batchSize: o.batchSize, seed: o.seed };
    // Lines without languages take --src-lang / --tgt-lang, else the tokenizer's (tokenizer_config.json).
    let langs: { srcLang?: string; tgtLang?: string } = {};
    if (task === 'translation') {
      if (!(tok instanceof NllbTokenizer)) throw new PolyglotError(`${o.modelDir}: translation needs an NLLB tokenizer`);
      langs = { srcLang: o.srcLang ?? tok.srcLang, tgtLang: o.tgtLang ?? tok.tgtLang };
      data = await translationData({ ...common, ...langs, tokenizer: tok, maxSourceLength: o.maxSourceLength, maxTargetLength: o.maxTargetLength });
    } else {
      if (!(tok instanceof XGLMTokenizer)) throw new PolyglotError(`${o.modelDir}: causal-lm needs an XGLM tokenizer`);
      data = await causalLmData({ ...common, tokenizer: tok, mode: o.pack ? 'pack' : 'pad', blockSize: o.pack ? o.maxLength : undefined, maxLength: o.pack ? undefined : o.maxLength });
    }
    for (const n of data.notes) o.hooks?.onWarning?.(n);
    const positionLimit = maxPositionsOf(loaded.ck.config);
    let warnedPastPositions = false;
    data.train.watch((b) => {
      const width = batchWidth(b.arrays);
      if (warnedPastPositions || width <= positionLimit) return;
      warnedPastPositions = true;
      o.hooks?.onWarning?.(pastPositionLimitMessage('a training batch row', width, positionLimit));
    });
    const bpe = data.train.batchesPerEpoch ?? Math.ceil(data.trainSize / o.batchSize);
    const stepsPerEpoch = Math.max(1, Math.ceil(bpe / o.gradAccum));
    const maxSteps = o.maxSteps ?? (o.epochs !== undefined ? Math.ceil(o.epochs * stepsPerEpoch) : undefined);
    if (maxSteps === undefined) throw new PolyglotError('train: give --max-steps or --epochs');

    // Dev sentences for chrF / BLEU: the first N held-out lines (of --eval-data, or of the split
    // held out from --data), fixed so scores are comparable across steps.
    const devPairs: DevPair[] =
      task === 'translation' && o.devTranslations > 0 ? data.heldOutLines(o.devTranslations).map((l) => translationRecord(l.line, l.where, langs)) : [];
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
      outDir: folder.dir,
      trainOnly: o.trainOnly,
      freeze: o.freeze,
      resume: o.resume,
      plot: true,
      timeBudgetSeconds: o.timeBudgetSeconds,
      stopSignal: o.stopSignal,
      gradientCheckpointing: o.gradientCheckpointing,
    };
    const lora = o.lora
      ? startLoraRun(loaded.model, { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targets: o.loraTargets, useRslora: o.loraRslora }, { seed: o.seed, baseModel: o.modelDir, task: loaded.task, hfName: loaded.format.weights.hfName })
      : undefined;
    const { onStart, ...hooks } = o.hooks ?? {};
    const trainer = new Trainer(lora?.model ?? loaded.model, data.train, cfg, {
      ...hooks,
      evalBatches: data.evalBatches,
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
    let summary: TrainSummary;
    try {
      if (o.memoryCheck && tf.getBackend() === 'wasm') {
        const shape = memoryShape(loaded);
        const length = task === 'translation' ? Math.max(o.maxSourceLength ?? 128, o.maxTargetLength ?? 128) : o.maxLength;
        // what --lora would train with the default targets (q_proj, v_proj of every attention, r 8)
        const attentions = shape.encoderLayers + shape.decoderLayers * (shape.crossAttention ? 2 : 1);
        const loraTrained = attentions * 2 * 8 * 2 * shape.dModel;
        checkFits(
          shape,
          { batch: o.batchSize, length, trained: trainer.trainableParameterCount, gradientCheckpointing: o.gradientCheckpointing, chunkedLogits: !loaded.model.lmHead },
          { limit: WASM_HEAP_BYTES, lora: !!lora, loraTrained, canCheckpoint: true },
        );
      }
      onStart?.({
        task,
        examples: data.trainSize,
        heldOut: data.evalSize,
        stepsPerEpoch,
        effectiveBatch: o.batchSize * o.gradAccum,
        maxSteps,
        firstStep: 0,
        trainableParameters: trainer.trainableParameterCount,
        parameters: trainer.parameterCount,
      });
      summary = await trainer.run();
    } finally {
      trainer.dispose();
    }
    let exportDir: string | undefined;
    if (exportTarget && !summary.interrupted) {
      exportDir = exportTarget;
      if (lora) lora.save(exportDir, trainer.trainable.map((p) => p.name).filter((n) => !lora.model.isAdapterParameter(n)));
      else exportHfModel(loaded.model, exportDir, { sourceDir: loaded.ck.dir, config: loaded.ck.config, overwrite: true, hfName: loaded.format.weights.hfName });
    }
    return { summary, exportDir, loaded, lora, trainSize: data.trainSize, evalSize: data.evalSize, samples };
  } finally {
    data?.close();
    folder.release();
  }
}

/** config.json for the --set check; an unreadable one is left for the model loader to report. */
function readJsonObject(file: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The shapes the memory plan needs, from the loaded model's config. */
export function memoryShape(loaded: LoadedModel): ShapeForMemory {
  const parameters = distinctParameters(loaded.model).reduce((n, p) => n + p.variable.size, 0);
  const c = loaded.ck.config as Record<string, number>;
  if (loaded.arch === 'xglm') {
    return { encoderLayers: c.num_layers, decoderLayers: 0, crossAttention: false, dModel: c.d_model, ffnDim: c.ffn_dim, heads: c.attention_heads, vocab: c.vocab_size, parameters };
  }
  return { encoderLayers: c.encoder_layers, decoderLayers: c.decoder_layers, crossAttention: true, dModel: c.d_model, ffnDim: Math.max(c.encoder_ffn_dim, c.decoder_ffn_dim), heads: c.encoder_attention_heads, vocab: c.vocab_size, parameters };
}
