/**
 * The training loop: seeded and deterministic (same command -> same losses), AdamW with
 * an HF schedule, gradient accumulation and clipping, parameter freezing, periodic
 * evaluation, metrics records, atomic checkpoints with exact resume, and a clean stop on
 * request (an AbortSignal, e.g. from SIGINT / SIGTERM, or `requestStop()`).
 *
 * The trainer reports through hooks (onStart-like data comes from the caller; onStep,
 * onEval, onCheckpoint, onWarning); progress bars and formatting belong to the caller
 * (cli/train-progress.ts).
 *
 * Work is never lost: a step that fails (bad data, divergence, an internal error) or is
 * stopped between micro-batches is rolled back to its start (data position and RNG), and a
 * checkpoint of the last completed step is written before the error propagates.
 *
 * Everything tensor-valued is created and disposed inside each step, so
 * `tf.memory().numTensors` stays flat across steps.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { setPackedWeightCache } from '../backend/wasm-batch-matmul.js';
import { Rng, type RngState } from '../core/random.js';
import { PolyglotError } from '../core/errors.js';
import { AdamW, hfNoDecay } from './adamw.js';
import { lrMultiplier, type ScheduleName } from './schedules.js';
import { clipCoefficient, globalNorm } from './clip.js';
import { trainablePredicate } from './freeze.js';
import { GradAccumulator } from './accumulate.js';
import { batchTensors, type BatchSource, type HostBatch } from './batch.js';
import { evaluateLoss, type EvalResult } from './evaluate.js';
import { distinctParameters, type ComputeLossOptions, type TrainableModel, type TrainParam } from '../core/trainable.js';
import { writeLossPlot } from './plot.js';
import { MetricsLog } from './metrics-log.js';
import { checkpointsRoot, cleanStaleTemporaries, listCheckpoints, loadCheckpoint, resolveCheckpoint, saveCheckpoint } from '../checkpoints/training-checkpoint.js';

export interface TrainerConfig {
  /** Optimizer steps to run in total (including steps done before a resume). */
  maxSteps: number;
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay: number;
  /** HF Trainer default: no decay on biases and LayerNorm weights. false = torch AdamW (decay everything). */
  excludeBiasAndNormFromDecay?: boolean;
  schedule: ScheduleName;
  warmupSteps: number;
  gradAccum: number;
  /** 0 or Infinity: no clipping (the norm is still logged). */
  maxGradNorm: number;
  seed: number;
  /** Passed to computeLoss (HF CrossEntropyLoss(label_smoothing=eps)). */
  labelSmoothing?: number;
  evalEvery: number;
  /** Checkpoint every N steps; 0: only at the end, on a stop request and before an error propagates. */
  saveEvery: number;
  keep: number;
  outDir: string;
  trainOnly?: string[];
  freeze?: string[];
  /** The checkpoint format's spelling of a parameter name, which the globs may also use (train/freeze.ts). */
  parameterAlias?: (name: string) => string | undefined;
  /** Checkpoint (or output folder) to continue from. */
  resume?: string;
  /** Write loss.png at the end. */
  plot?: boolean;
  /** Stop (evaluate, checkpoint, finish normally) once this many seconds of training have passed. */
  timeBudgetSeconds?: number;
  /** Stop after the current micro-batch (checkpoint first) once aborted; the reason is reported in the summary. */
  stopSignal?: AbortSignal;
  /** Recompute each block in backward instead of keeping its activations (models that support it). */
  gradientCheckpointing?: boolean;
}

export type { EvalResult };

/** What the trainer reports after each optimizer step. */
export interface StepReport {
  step: number;
  maxSteps: number;
  /** Step the run started (or resumed) from. */
  firstStep: number;
  /** Training objective (for NLLB-MoE: LM loss + router aux and z terms). */
  loss: number;
  /** The LM (cross-entropy) part of `loss`, when the model reports it. */
  lmLoss?: number;
  lr: number;
  /** Tokens per second since the run started. */
  tokensPerSecond: number;
  elapsedSeconds: number;
  timeBudgetSeconds?: number;
}

export interface TrainerHooks {
  /** Held-out batches for eval loss (a fresh iterable per evaluation). */
  evalBatches?: () => Iterable<HostBatch>;
  /** Extra metrics at each evaluation (translation: chrF / BLEU of decoded dev sentences). */
  extraEval?: (step: number) => Promise<Record<string, number>> | Record<string, number>;
  /** Each logged record (also written to metrics.jsonl). */
  onRecord?: (r: Record<string, unknown>) => void;
  onStep?: (s: StepReport) => void;
  onEval?: (step: number, ev: EvalResult) => void;
  /** A checkpoint was written; `reason` says why (periodic, end, stop, error). */
  onCheckpoint?: (step: number, dir: string, reason: CheckpointReason) => void;
  /** Something the user should know that does not stop the run. */
  onWarning?: (message: string) => void;
}

export type CheckpointReason = 'periodic' | 'end' | 'stop' | 'error';

export interface TrainSummary {
  step: number;
  /** Stopped on request before maxSteps. */
  interrupted: boolean;
  /** The abort reason of cfg.stopSignal (e.g. "SIGTERM"), when that stopped the run. */
  stopReason?: string;
  lastLoss: number;
  evals: { step: number; metrics: EvalResult }[];
  metricsFile: string;
  plotFile?: string;
  checkpoint?: string;
  tokensPerSecond: number;
  /** Finished early because of cfg.timeBudgetSeconds. */
  outOfTime: boolean;
}

interface History {
  train: [number, number][];
  eval: [number, number][];
}

type ComputeLossOpts = ComputeLossOptions;

/** Lets signal handlers and timers run (signals reach JS only when the event loop turns). */
const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

interface StepOutcome {
  loss: number;
  tokens: number;
  comps: Record<string, number>;
  histograms: Record<string, number[]>;
  gradNorm: number;
}

export class Trainer {
  readonly params: TrainParam[];
  readonly trainable: TrainParam[];
  readonly optimizer: AdamW;
  readonly rng: Rng;
  step = 0;
  private stopRequested = false;
  private history: History = { train: [], eval: [] };
  private evals: { step: number; metrics: EvalResult }[] = [];
  private readonly metrics: MetricsLog;

  constructor(
    readonly model: TrainableModel,
    readonly data: BatchSource,
    readonly cfg: TrainerConfig,
    readonly hooks: TrainerHooks = {},
  ) {
    if (!(cfg.maxSteps > 0)) throw new PolyglotError(`--max-steps: expected a positive number of steps, found ${cfg.maxSteps}`);
    if (!(cfg.gradAccum >= 1) || !Number.isInteger(cfg.gradAccum)) throw new PolyglotError(`--grad-accum: expected an integer >= 1, found ${cfg.gradAccum}`);
    if (!(cfg.lr > 0)) throw new PolyglotError(`--lr: expected a positive learning rate, found ${cfg.lr}`);
    this.params = distinctParameters(model);
    this.trainable = selectTrainable(this.params, cfg, model);
    this.optimizer = new AdamW(this.trainable, {
      lr: cfg.lr,
      betas: cfg.betas,
      eps: cfg.eps,
      weightDecay: cfg.weightDecay,
      noDecay: cfg.excludeBiasAndNormFromDecay === false ? undefined : hfNoDecay,
    });
    this.rng = new Rng(cfg.seed);
    this.metrics = new MetricsLog(path.join(cfg.outDir, 'metrics.jsonl'));
  }

  /** Number of trained scalars (after --freeze / --train-only). */
  get trainableParameterCount(): number {
    return this.trainable.reduce((n, p) => n + p.variable.size, 0);
  }

  get parameterCount(): number {
    return this.params.reduce((n, p) => n + p.variable.size, 0);
  }

  /** Asks the loop to save a checkpoint and return after the current micro-batch. */
  requestStop(): void {
    this.stopRequested = true;
  }

  private get stopping(): boolean {
    return this.stopRequested || this.cfg.stopSignal?.aborted === true;
  }

  lrAt(step: number): number {
    return this.cfg.lr * lrMultiplier(step, { name: this.cfg.schedule, warmupSteps: this.cfg.warmupSteps, totalSteps: this.cfg.maxSteps });
  }

  private record(r: Record<string, unknown>): void {
    this.metrics.append(r);
    this.hooks.onRecord?.(r);
  }

  /** Loss and gradients of one micro-batch; components are read to host numbers. */
  private lossAndGrads(batch: HostBatch): { loss: number; components: Record<string, number>; histograms: Record<string, number[]>; grads: Map<string, tf.Tensor> } {
    const inputs = batchTensors(batch);
    const kept: Record<string, tf.Scalar> = {};
    let histograms: Record<string, number[]> = {};
    const opts: ComputeLossOpts = { training: true, rng: this.rng, labelSmoothing: this.cfg.labelSmoothing };
    opts.trained = this.trainable.map((p) => ({ name: p.name, variable: p.variable }));
    if (this.cfg.gradientCheckpointing) opts.gradientCheckpointing = { trained: opts.trained };
    try {
      // engine.gradients with allowNoGradients (what tf.variableGrads calls, minus its "some variable
      // is connected" check): a step where nothing trained is on the loss's path -- LoRA adapters
      // when LayerDrop skipped every adapted layer -- gives no gradients, and, as torch's AdamW
      // skips parameters whose .grad is None, the optimizer then updates nothing.
      const variables = this.trainable.map((p) => p.variable);
      const { value, grads } = tf.engine().gradients(() => {
        const out = this.model.computeLoss(inputs, opts);
        for (const [k, c] of Object.entries(out.components)) kept[k] = tf.keep(c);
        histograms = out.histograms ?? {};
        return out.loss;
      }, variables, undefined, true);
      const loss = value.dataSync()[0];
      const components: Record<string, number> = {};
      // A component may be the loss tensor itself (XGLM reports lm_loss = loss): read before disposing.
      for (const [k, c] of Object.entries(kept)) components[k] = c === value ? loss : c.dataSync()[0];
      value.dispose();
      const byName = new Map<string, tf.Tensor>();
      this.trainable.forEach((p, i) => {
        const g = grads[i];
        if (g) byName.set(p.name, g);
      });
      return { loss, components, histograms, grads: byName };
    } finally {
      tf.dispose([...new Set(Object.values(kept))].filter((t) => !t.isDisposed));
      tf.dispose(Object.values(inputs));
    }
  }

  /** Token-weighted eval loss over the eval batches (+ extra metrics). */
  async evaluate(): Promise<EvalResult | undefined> {
    if (!this.hooks.evalBatches) return undefined;
    const res = evaluateLoss(this.model, this.hooks.evalBatches());
    if (res && this.hooks.extraEval) Object.assign(res, await this.hooks.extraEval(this.step));
    return res;
  }

  private async evalAndRecord(): Promise<void> {
    const ev = await this.evaluate();
    if (!ev) return;
    this.evals.push({ step: this.step, metrics: ev });
    this.history.eval.push([this.step, ev.loss]);
    this.record({ type: 'eval', step: this.step, ...ev });
    this.hooks.onEval?.(this.step, ev);
  }

  private async saveNow(reason: CheckpointReason): Promise<string> {
    const weights = this.checkpointed().map((p) => ({ name: p.name, shape: p.variable.shape.slice(), data: p.variable.dataSync().slice() as Float32Array }));
    const state = {
      rng: this.rng.state(),
      data: this.data.state(),
      history: this.history,
      evals: this.evals,
      schedule: { name: this.cfg.schedule, warmupSteps: this.cfg.warmupSteps, totalSteps: this.cfg.maxSteps, lr: this.cfg.lr },
      trainable: this.trainable.map((p) => p.name),
    };
    const dir = saveCheckpoint(checkpointsRoot(this.cfg.outDir), { step: this.step, weights, optimizer: await this.optimizer.state(), state }, this.cfg.keep);
    this.record({ type: 'checkpoint', step: this.step, dir });
    this.hooks.onCheckpoint?.(this.step, dir, reason);
    return dir;
  }

  /** The parameters a checkpoint holds. */
  private checkpointed(): TrainParam[] {
    return this.model.frozenBase ? this.trainable : this.params;
  }

  /** Restores weights, optimizer moments, step, RNG and data position from a checkpoint. */
  restore(dir: string): void {
    const ck = loadCheckpoint(resolveCheckpoint(dir));
    const byName = new Map(this.checkpointed().map((p) => [p.name, p]));
    for (const w of ck.weights) {
      const p = byName.get(w.name);
      if (!p) throw new PolyglotError(`${dir}: checkpoint has parameter "${w.name}", which this model does not have`);
      if (p.variable.shape.join(',') !== w.shape.join(',')) {
        throw new PolyglotError(`${dir}: parameter "${w.name}": checkpoint shape [${w.shape}], model shape [${p.variable.shape}]`);
      }
      tf.tidy(() => p.variable.assign(tf.tensor(w.data, w.shape, 'float32')));
    }
    if (ck.weights.length !== this.checkpointed().length) {
      throw new PolyglotError(`${dir}: checkpoint has ${ck.weights.length} parameters, the model ${this.checkpointed().length}`);
    }
    this.optimizer.loadState(ck.optimizer);
    this.step = ck.step;
    const st = ck.state as { rng: RngState; data: unknown; history?: History; evals?: { step: number; metrics: EvalResult }[]; schedule?: Record<string, unknown>; trainable?: string[] };
    // Resuming with other hyper-parameters is allowed (e.g. a longer run), but it no longer
    // reproduces the uninterrupted run: say so.
    const now = { name: this.cfg.schedule, warmupSteps: this.cfg.warmupSteps, totalSteps: this.cfg.maxSteps, lr: this.cfg.lr };
    if (st.schedule && JSON.stringify(st.schedule) !== JSON.stringify(now)) {
      this.hooks.onWarning?.(`resume: schedule ${JSON.stringify(st.schedule)} in the checkpoint, ${JSON.stringify(now)} now (the run continues with the new one)`);
    }
    if (st.trainable && st.trainable.join() !== this.trainable.map((p) => p.name).join()) {
      this.hooks.onWarning?.('resume: the set of trained parameters differs from the checkpoint (--freeze / --train-only changed)');
    }
    this.rng.setState(st.rng);
    this.data.restore(st.data);
    this.history = st.history ?? { train: [], eval: [] };
    this.evals = st.evals ?? [];
  }

  /**
   * One optimizer step over cfg.gradAccum micro-batches; undefined when a stop was requested
   * between micro-batches (nothing applied). The caller rolls the data position and RNG back.
   */
  private async trainStep(lr: number): Promise<StepOutcome | undefined> {
    const cfg = this.cfg;
    const acc = cfg.gradAccum > 1 ? new GradAccumulator() : undefined;
    let grads: Map<string, tf.Tensor> = new Map();
    try {
      let loss = 0;
      let tokens = 0;
      const comps: Record<string, number> = {};
      const histograms: Record<string, number[]> = {};
      // HF Trainer >= 4.46 (num_items_in_batch): the accumulated loss is the summed token loss
      // over all micro-batches divided by their total target count, so each micro-batch's mean
      // loss (and gradient) is weighted by its share of the step's targets; the step then equals
      // one step on the concatenated batch.
      const micros = Array.from({ length: cfg.gradAccum }, () => this.data.next());
      const totalTargets = micros.reduce((n, b) => n + b.targets, 0);
      for (let m = 0; m < micros.length; m++) {
        if (m > 0) {
          // A stop request (signal) is seen between micro-batches, not only between steps.
          await yieldToEventLoop();
          if (this.stopping) return undefined;
        }
        const batch = micros[m];
        const weight = totalTargets > 0 ? batch.targets / totalTargets : 1 / cfg.gradAccum;
        tokens += batch.tokens;
        const r = this.lossAndGrads(batch);
        loss += r.loss * weight;
        for (const [k, v] of Object.entries(r.components)) comps[k] = (comps[k] ?? 0) + v * weight;
        for (const [k, counts] of Object.entries(r.histograms)) histograms[k] = counts.map((n, i) => n + (histograms[k]?.[i] ?? 0));
        if (acc) {
          acc.add(r.grads, weight);
          tf.dispose([...r.grads.values()]);
        } else grads = r.grads;
      }
      // Checked before the update, so a diverged step never reaches the weights (or a checkpoint).
      if (!Number.isFinite(loss)) throw new PolyglotError(`training diverged: loss is ${loss} at step ${this.step + 1} (try a lower --lr or --max-grad-norm)`);
      if (acc) grads = acc.grads();
      let gradNorm: number;
      if (cfg.maxGradNorm > 0 && Number.isFinite(cfg.maxGradNorm)) {
        const c = clipCoefficient(grads.values(), cfg.maxGradNorm);
        gradNorm = c.totalNorm;
        this.optimizer.step(grads, lr, c.coef);
      } else {
        gradNorm = globalNorm(grads.values());
        this.optimizer.step(grads, lr);
      }
      return { loss, tokens, comps, histograms, gradNorm };
    } finally {
      if (acc) acc.reset();
      else tf.dispose([...grads.values()]);
    }
  }

  /**
   * Trains to cfg.maxSteps. On wasm, packed matmul weights are not cached meanwhile
   * (backend/wasm-batch-matmul.ts): the cache would hold a second copy of every weight.
   */
  async run(): Promise<TrainSummary> {
    const cached = setPackedWeightCache(false);
    try {
      return await this.trainLoop();
    } finally {
      setPackedWeightCache(cached);
    }
  }

  private async trainLoop(): Promise<TrainSummary> {
    const cfg = this.cfg;
    fs.mkdirSync(cfg.outDir, { recursive: true });
    if (cfg.resume) {
      const from = resolveCheckpoint(cfg.resume);
      this.restore(from);
      if (this.step >= cfg.maxSteps) {
        throw new PolyglotError(
          `--resume ${cfg.resume}: the checkpoint is at step ${this.step} and --max-steps is ${cfg.maxSteps}, so nothing is left to train (raise --max-steps to continue; \`polyglot export-hf --checkpoint ${from}\` writes its model)`,
        );
      }
      this.metrics.truncateAfter(this.step);
      this.record({ type: 'resume', step: this.step, from });
    } else {
      this.metrics.reset();
    }
    cleanStaleTemporaries(checkpointsRoot(cfg.outDir));
    const t0 = Date.now();
    let tokensSinceStart = 0;
    let lastLoss = NaN;
    let lastCheckpoint: string | undefined;
    const firstStep = this.step;
    let outOfTime = false;
    // The starting point needs no checkpoint: it is the model folder or the resumed checkpoint.
    let savedStep = this.step;
    const save = async (reason: CheckpointReason) => {
      lastCheckpoint = await this.saveNow(reason);
      savedStep = this.step;
    };
    try {
      if (cfg.evalEvery > 0 && this.step === 0) await this.evalAndRecord();
      while (this.step < cfg.maxSteps && !this.stopping) {
        await yieldToEventLoop();
        if (this.stopping) break;
        const lr = this.lrAt(this.step);
        const stepStart = Date.now();
        const before = { data: this.data.state(), rng: this.rng.state() };
        const rollBack = () => {
          this.data.restore(before.data);
          this.rng.setState(before.rng);
        };
        let r: StepOutcome | undefined;
        try {
          r = await this.trainStep(lr);
        } catch (e) {
          rollBack();
          throw e;
        }
        if (!r) {
          rollBack();
          break;
        }
        this.step += 1;
        lastLoss = r.loss;
        tokensSinceStart += r.tokens;
        const elapsed = (Date.now() - t0) / 1000;
        const tps = tokensSinceStart / Math.max(elapsed, 1e-9);
        this.history.train.push([this.step, r.loss]);
        this.record({
          type: 'train',
          step: this.step,
          epoch: this.data.epoch,
          loss: r.loss,
          ...r.comps,
          ...r.histograms,
          lr,
          grad_norm: r.gradNorm,
          tokens: r.tokens,
          tokens_per_s: r.tokens / Math.max((Date.now() - stepStart) / 1000, 1e-9),
          elapsed_s: elapsed,
          num_tensors: tf.memory().numTensors,
        });
        this.hooks.onStep?.({
          step: this.step,
          maxSteps: cfg.maxSteps,
          firstStep,
          loss: r.loss,
          lmLoss: r.comps.lm_loss,
          lr,
          tokensPerSecond: tps,
          elapsedSeconds: elapsed,
          timeBudgetSeconds: cfg.timeBudgetSeconds,
        });
        outOfTime = cfg.timeBudgetSeconds !== undefined && elapsed >= cfg.timeBudgetSeconds && this.step < cfg.maxSteps;
        if (cfg.evalEvery > 0 && (this.step % cfg.evalEvery === 0 || this.step === cfg.maxSteps || outOfTime)) {
          await this.evalAndRecord();
        }
        if (cfg.saveEvery > 0 && this.step % cfg.saveEvery === 0) await save('periodic');
        else if (this.step === cfg.maxSteps || outOfTime) await save('end');
        if (outOfTime) break;
      }
      // A stop (or the end) that arrived after the last checkpoint: save the last completed step.
      if (this.stopping && savedStep !== this.step) await save('stop');
    } catch (e) {
      if (savedStep !== this.step) {
        try {
          await save('error');
        } catch (saveError) {
          this.hooks.onWarning?.(`could not save a checkpoint after the error: ${(saveError as Error).message}`);
        }
      }
      throw e;
    }
    let plotFile: string | undefined;
    if (cfg.plot !== false) {
      plotFile = path.join(cfg.outDir, 'loss.png');
      writeLossPlot(plotFile, this.history.train, this.history.eval);
    }
    const elapsed = (Date.now() - t0) / 1000;
    const reason: unknown = cfg.stopSignal?.aborted ? cfg.stopSignal.reason : undefined;
    return {
      step: this.step,
      interrupted: this.stopping && this.step < cfg.maxSteps,
      stopReason: typeof reason === 'string' ? reason : undefined,
      lastLoss,
      evals: this.evals,
      metricsFile: this.metrics.file,
      plotFile,
      checkpoint: lastCheckpoint ?? listCheckpoints(checkpointsRoot(cfg.outDir)).pop()?.dir,
      tokensPerSecond: tokensSinceStart / Math.max(elapsed, 1e-9),
      outOfTime,
    };
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/**
 * The one place that decides which parameters are trained (and get optimizer state):
 * all of them, narrowed by --train-only / --freeze globs over HF names; a model that trains
 * only part of itself by construction (LoRA: the adapters) decides with the same globs.
 */
export function selectTrainable(params: TrainParam[], cfg: Pick<TrainerConfig, 'trainOnly' | 'freeze' | 'parameterAlias'>, model?: Pick<TrainableModel, 'trainedPredicate'>): TrainParam[] {
  const globs = { trainOnly: cfg.trainOnly, freeze: cfg.freeze, alias: cfg.parameterAlias };
  const trains = model?.trainedPredicate ? model.trainedPredicate(globs) : trainablePredicate(params.map((p) => p.name), globs);
  return params.filter((p) => trains(p.name));
}
