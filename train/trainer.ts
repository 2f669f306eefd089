/**
 * The training loop: seeded and deterministic (same command -> same losses), AdamW with
 * an HF schedule, gradient accumulation and clipping, parameter freezing, periodic
 * evaluation, JSONL metrics, a progress line on stderr, atomic checkpoints with exact
 * resume, a clean stop on request (SIGINT), and the loss-curve PNG at the end.
 *
 * Everything tensor-valued is created and disposed inside each step, so
 * `tf.memory().numTensors` stays flat across steps.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
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
import { checkpointsRoot, listCheckpoints, loadCheckpoint, resolveCheckpoint, saveCheckpoint } from '../checkpoints/training-checkpoint.js';

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
  saveEvery: number;
  keep: number;
  outDir: string;
  trainOnly?: string[];
  freeze?: string[];
  /** Checkpoint (or output folder) to continue from. */
  resume?: string;
  /** Progress line on stderr. */
  progress?: boolean;
  /** Write loss.png at the end. */
  plot?: boolean;
  /** Stop (evaluate, checkpoint, finish normally) once this many seconds of training have passed. */
  timeBudgetSeconds?: number;
  /** With progress: also print each evaluation on stderr (default true). */
  printEval?: boolean;
}

export type { EvalResult };

export interface TrainerHooks {
  /** Held-out batches for eval loss (a fresh iterable per evaluation). */
  evalBatches?: () => Iterable<HostBatch>;
  /** Extra metrics at each evaluation (translation: chrF / BLEU of decoded dev sentences). */
  extraEval?: (step: number) => Promise<Record<string, number>> | Record<string, number>;
  /** Each logged record (also written to metrics.jsonl). */
  onRecord?: (r: Record<string, unknown>) => void;
}

export interface TrainSummary {
  step: number;
  interrupted: boolean;
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

export class Trainer {
  readonly params: TrainParam[];
  readonly trainable: TrainParam[];
  readonly optimizer: AdamW;
  readonly rng: Rng;
  step = 0;
  private stopRequested = false;
  private history: History = { train: [], eval: [] };
  private evals: { step: number; metrics: EvalResult }[] = [];
  private readonly metricsFile: string;

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
    const trains = trainablePredicate(this.params.map((p) => p.name), { trainOnly: cfg.trainOnly, freeze: cfg.freeze });
    this.trainable = this.params.filter((p) => trains(p.name));
    this.optimizer = new AdamW(this.trainable, {
      lr: cfg.lr,
      betas: cfg.betas,
      eps: cfg.eps,
      weightDecay: cfg.weightDecay,
      noDecay: cfg.excludeBiasAndNormFromDecay === false ? undefined : hfNoDecay,
    });
    this.rng = new Rng(cfg.seed);
    fs.mkdirSync(cfg.outDir, { recursive: true });
    this.metricsFile = path.join(cfg.outDir, 'metrics.jsonl');
  }

  /** Asks the loop to save a checkpoint and return after the current step (SIGINT). */
  requestStop(): void {
    this.stopRequested = true;
  }

  lrAt(step: number): number {
    return this.cfg.lr * lrMultiplier(step, { name: this.cfg.schedule, warmupSteps: this.cfg.warmupSteps, totalSteps: this.cfg.maxSteps });
  }

  private record(r: Record<string, unknown>): void {
    fs.appendFileSync(this.metricsFile, `${JSON.stringify(r)}\n`);
    this.hooks.onRecord?.(r);
  }

  /** Loss and gradients of one micro-batch; components are read to host numbers. */
  private lossAndGrads(batch: HostBatch): { loss: number; components: Record<string, number>; histograms: Record<string, number[]>; grads: Map<string, tf.Tensor> } {
    const inputs = batchTensors(batch);
    const kept: Record<string, tf.Scalar> = {};
    let histograms: Record<string, number[]> = {};
    const opts: ComputeLossOpts = { training: true, rng: this.rng, labelSmoothing: this.cfg.labelSmoothing };
    try {
      const { value, grads } = tf.variableGrads(() => {
        const out = this.model.computeLoss(inputs, opts);
        for (const [k, c] of Object.entries(out.components)) kept[k] = tf.keep(c);
        histograms = out.histograms ?? {};
        return out.loss;
      }, this.trainable.map((p) => p.variable));
      const loss = value.dataSync()[0];
      const components: Record<string, number> = {};
      // A component may be the loss tensor itself (XGLM reports lm_loss = loss): read before disposing.
      for (const [k, c] of Object.entries(kept)) components[k] = c === value ? loss : c.dataSync()[0];
      value.dispose();
      const byName = new Map<string, tf.Tensor>();
      for (const p of this.trainable) {
        const g = grads[p.variable.name];
        if (g) byName.set(p.name, g);
      }
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
    if (this.cfg.progress) process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${this.cfg.printEval === false ? '' : `${formatEval(this.step, ev)}\n`}`);
  }

  private async saveNow(): Promise<string> {
    const weights = this.params.map((p) => ({ name: p.name, shape: p.variable.shape.slice(), data: p.variable.dataSync().slice() as Float32Array }));
    const state = {
      rng: this.rng.state(),
      data: this.data.state(),
      history: this.history,
      evals: this.evals,
      schedule: { name: this.cfg.schedule, warmupSteps: this.cfg.warmupSteps, totalSteps: this.cfg.maxSteps, lr: this.cfg.lr },
      trainable: this.trainable.map((p) => p.name),
    };
    return saveCheckpoint(checkpointsRoot(this.cfg.outDir), { step: this.step, weights, optimizer: await this.optimizer.state(), state }, this.cfg.keep);
  }

  /** Restores weights, optimizer moments, step, RNG and data position from a checkpoint. */
  restore(dir: string): void {
    const ck = loadCheckpoint(resolveCheckpoint(dir));
    const byName = new Map(this.params.map((p) => [p.name, p]));
    for (const w of ck.weights) {
      const p = byName.get(w.name);
      if (!p) throw new PolyglotError(`${dir}: checkpoint has parameter "${w.name}", which this model does not have`);
      if (p.variable.shape.join(',') !== w.shape.join(',')) {
        throw new PolyglotError(`${dir}: parameter "${w.name}": checkpoint shape [${w.shape}], model shape [${p.variable.shape}]`);
      }
      tf.tidy(() => p.variable.assign(tf.tensor(w.data, w.shape, 'float32')));
    }
    if (ck.weights.length !== this.params.length) {
      throw new PolyglotError(`${dir}: checkpoint has ${ck.weights.length} parameters, the model ${this.params.length}`);
    }
    this.optimizer.loadState(ck.optimizer);
    this.step = ck.step;
    const st = ck.state as { rng: RngState; data: unknown; history?: History; evals?: { step: number; metrics: EvalResult }[]; schedule?: Record<string, unknown>; trainable?: string[] };
    // Resuming with other hyper-parameters is allowed (e.g. a longer run), but it no longer
    // reproduces the uninterrupted run: say so.
    const now = { name: this.cfg.schedule, warmupSteps: this.cfg.warmupSteps, totalSteps: this.cfg.maxSteps, lr: this.cfg.lr };
    if (st.schedule && JSON.stringify(st.schedule) !== JSON.stringify(now)) {
      process.stderr.write(`resume: schedule ${JSON.stringify(st.schedule)} in the checkpoint, ${JSON.stringify(now)} now (the run continues with the new one)\n`);
    }
    if (st.trainable && st.trainable.join() !== this.trainable.map((p) => p.name).join()) {
      process.stderr.write('resume: the set of trained parameters differs from the checkpoint (--freeze / --train-only changed)\n');
    }
    this.rng.setState(st.rng);
    this.data.restore(st.data);
    this.history = st.history ?? { train: [], eval: [] };
    this.evals = st.evals ?? [];
  }

  async run(): Promise<TrainSummary> {
    const cfg = this.cfg;
    if (cfg.resume) {
      this.restore(cfg.resume);
      this.record({ type: 'resume', step: this.step, from: resolveCheckpoint(cfg.resume) });
    } else if (fs.existsSync(this.metricsFile)) {
      fs.rmSync(this.metricsFile);
    }
    const t0 = Date.now();
    let tokensSinceStart = 0;
    let lastLoss = NaN;
    let lastCheckpoint: string | undefined;
    const acc = cfg.gradAccum > 1 ? new GradAccumulator() : undefined;
    const firstStep = this.step;
    let outOfTime = false;
    let savedStep = -1;
    if (cfg.evalEvery > 0 && this.step === 0) await this.evalAndRecord();
    while (this.step < cfg.maxSteps && !this.stopRequested) {
      // Yield to the event loop once per step so signal handlers (SIGINT -> requestStop) run.
      await new Promise<void>((r) => setImmediate(r));
      if (this.stopRequested) break;
      const lr = this.lrAt(this.step);
      const stepStart = Date.now();
      let loss = 0;
      let tokens = 0;
      const comps: Record<string, number> = {};
      const histograms: Record<string, number[]> = {};
      let grads: Map<string, tf.Tensor> = new Map();
      // HF Trainer >= 4.46 (num_items_in_batch): the accumulated loss is the summed token loss
      // over all micro-batches divided by their total target count, so each micro-batch's mean
      // loss (and gradient) is weighted by its share of the step's targets; the step then equals
      // one step on the concatenated batch.
      const micros = Array.from({ length: cfg.gradAccum }, () => this.data.next());
      const totalTargets = micros.reduce((n, b) => n + b.targets, 0);
      for (const batch of micros) {
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
      if (acc) acc.reset();
      else tf.dispose([...grads.values()]);
      if (!Number.isFinite(loss)) throw new PolyglotError(`training diverged: loss is ${loss} at step ${this.step + 1} (try a lower --lr or --max-grad-norm)`);
      this.step += 1;
      lastLoss = loss;
      tokensSinceStart += tokens;
      const elapsed = (Date.now() - t0) / 1000;
      const tps = tokensSinceStart / Math.max(elapsed, 1e-9);
      this.history.train.push([this.step, loss]);
      this.record({
        type: 'train',
        step: this.step,
        epoch: this.data.epoch,
        loss,
        ...comps,
        ...histograms,
        lr,
        grad_norm: gradNorm,
        tokens,
        tokens_per_s: tokens / Math.max((Date.now() - stepStart) / 1000, 1e-9),
        elapsed_s: elapsed,
        num_tensors: tf.memory().numTensors,
      });
      if (cfg.progress) this.progress(loss, lr, tps, elapsed, firstStep);
      outOfTime = cfg.timeBudgetSeconds !== undefined && elapsed >= cfg.timeBudgetSeconds && this.step < cfg.maxSteps;
      if (cfg.evalEvery > 0 && (this.step % cfg.evalEvery === 0 || this.step === cfg.maxSteps || outOfTime)) {
        await this.evalAndRecord();
      }
      const stopping = this.stopRequested || this.step === cfg.maxSteps || outOfTime;
      if ((cfg.saveEvery > 0 && this.step % cfg.saveEvery === 0) || (stopping && (cfg.saveEvery > 0 || this.stopRequested))) {
        lastCheckpoint = await this.saveNow();
        savedStep = this.step;
        this.record({ type: 'checkpoint', step: this.step, dir: lastCheckpoint });
      }
      if (outOfTime) break;
    }
    // A stop that arrived between steps: the last step is not checkpointed yet.
    if (this.stopRequested && savedStep !== this.step) {
      lastCheckpoint = await this.saveNow();
      this.record({ type: 'checkpoint', step: this.step, dir: lastCheckpoint });
    }
    if (cfg.progress) process.stderr.write('\n');
    let plotFile: string | undefined;
    if (cfg.plot !== false) {
      plotFile = path.join(cfg.outDir, 'loss.png');
      writeLossPlot(plotFile, this.history.train, this.history.eval);
    }
    const elapsed = (Date.now() - t0) / 1000;
    return {
      step: this.step,
      interrupted: this.stopRequested && this.step < cfg.maxSteps,
      lastLoss,
      evals: this.evals,
      metricsFile: this.metricsFile,
      plotFile,
      checkpoint: lastCheckpoint ?? listCheckpoints(checkpointsRoot(cfg.outDir)).pop()?.dir,
      tokensPerSecond: tokensSinceStart / Math.max(elapsed, 1e-9),
      outOfTime,
    };
  }

  private progress(loss: number, lr: number, tps: number, elapsed: number, firstStep: number): void {
    const total = this.cfg.maxSteps;
    const done = this.step - firstStep;
    let eta = done > 0 ? ((total - this.step) * elapsed) / done : 0;
    if (this.cfg.timeBudgetSeconds !== undefined) eta = Math.min(eta, Math.max(0, this.cfg.timeBudgetSeconds - elapsed));
    const width = 24;
    const filled = Math.round((this.step / total) * width);
    const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}`;
    const line = `step ${this.step}/${total} [${bar}] loss ${loss.toFixed(4)} lr ${lr.toExponential(2)} ${tps.toFixed(0)} tok/s ETA ${formatDuration(eta)}`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
    else if (this.step % Math.max(1, Math.floor(total / 20)) === 0 || this.step === total) process.stderr.write(`${line}\n`);
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const r = Math.round(s % 60);
  return m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export function formatEval(step: number, ev: EvalResult): string {
  const extra = Object.entries(ev)
    .filter(([k]) => k !== 'loss' && k !== 'perplexity' && !k.includes('/'))
    .map(([k, v]) => `${k} ${v.toFixed(k.includes('loss') ? 4 : 2)}`)
    .join(' ');
  return `eval @ step ${step}: loss ${ev.loss.toFixed(4)} ppl ${ev.perplexity.toFixed(2)}${extra ? ` ${extra}` : ''}`;
}
