/**
 * How `polyglot train` and `polyglot demo` show a run: the start summary, a progress line on
 * stderr (redrawn on a TTY, every ~5% otherwise, towards whichever of --max-steps and the time
 * budget ends the run first), evaluations, checkpoints and warnings. The
 * trainer only reports (train/trainer.ts hooks); all formatting lives here.
 */
import type { EvalResult, StepReport, TrainRunHooks, RunStartReport } from '../index.js';

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const r = Math.round(s % 60);
  return m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

/** One evaluation: the held-out LM loss (the MoE router terms are listed apart, as aux / z). */
export function formatEval(step: number, ev: EvalResult): string {
  const extra = Object.entries(ev)
    .filter(([k]) => k !== 'loss' && k !== 'perplexity' && !k.includes('/'))
    .map(([k, v]) => `${k} ${v.toFixed(k.includes('loss') ? 4 : 2)}`)
    .join(' ');
  return `eval @ step ${step}: dev lm loss ${ev.loss.toFixed(4)} ppl ${ev.perplexity.toFixed(2)}${extra ? ` ${extra}` : ''}`;
}

const count = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));

export function formatStart(r: RunStartReport): string {
  return (
    `${r.task}: ${r.examples} training examples, ${r.heldOut} held out; ${r.stepsPerEpoch} steps per epoch at ${r.effectiveBatch} examples per step; ` +
    `${r.maxSteps} steps; training ${count(r.trainableParameters)} of ${count(r.parameters)} parameters`
  );
}

/** The train loss line: the objective, and its LM part when the model adds router terms to it. */
function lossText(s: StepReport): string {
  const lm = s.lmLoss !== undefined && Math.abs(s.lmLoss - s.loss) > 1e-12 ? ` (lm ${s.lmLoss.toFixed(4)})` : '';
  return `train loss ${s.loss.toFixed(4)}${lm}`;
}

export interface RunProgress {
  /** 0..1 towards whichever limit ends the run first. */
  fraction: number;
  etaSeconds: number;
  /** The step the run is expected to end at (the last step once the time is up). */
  endStep: number;
  /** Which limit ends the run: --max-steps, or the time budget (demo --minutes, --time-budget). */
  endsBy: 'steps' | 'time';
}

/**
 * Where a run stands against both of its limits. A run with a time budget that will run out
 * long before --max-steps (the demo: 3000 steps, ~800 done in 3 minutes) shows progress, ETA and
 * the expected last step of the time budget, not of the step limit it will never reach.
 */
export function runProgress(s: StepReport): RunProgress {
  const done = s.step - s.firstStep;
  const secsPerStep = done > 0 ? s.elapsedSeconds / done : Infinity;
  const stepsLeft = Math.max(0, s.maxSteps - s.step);
  const stepsEta = stepsLeft === 0 ? 0 : stepsLeft * secsPerStep;
  if (s.timeBudgetSeconds !== undefined && s.timeBudgetSeconds > 0) {
    const timeLeft = Math.max(0, s.timeBudgetSeconds - s.elapsedSeconds);
    if (timeLeft < stepsEta) {
      // the trainer stops after the step that finds the budget spent (train/trainer.ts)
      const endStep = timeLeft === 0 ? s.step : Math.min(s.maxSteps, s.step + Math.max(1, Math.ceil(timeLeft / secsPerStep)));
      return { fraction: Math.min(1, s.elapsedSeconds / s.timeBudgetSeconds), etaSeconds: timeLeft, endStep, endsBy: 'time' };
    }
  }
  return { fraction: s.maxSteps > 0 ? Math.min(1, s.step / s.maxSteps) : 1, etaSeconds: stepsEta, endStep: s.maxSteps, endsBy: 'steps' };
}

/** The progress line of one step: `step 412/~805 (time budget) [=====>   ] train loss ... ETA 1m10s`. */
export function formatStepProgress(s: StepReport, p: RunProgress = runProgress(s)): string {
  const width = 24;
  const filled = Math.round(p.fraction * width);
  const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}`;
  const of = p.endsBy === 'steps' ? `${s.step}/${s.maxSteps}` : p.endStep === s.step ? `${s.step}/${s.step} (time budget reached)` : `${s.step}/~${p.endStep} (time budget)`;
  return `step ${of} [${bar}] ${lossText(s)} lr ${s.lr.toExponential(2)} ${s.tokensPerSecond.toFixed(0)} tok/s ETA ${formatDuration(p.etaSeconds)}`;
}

export interface ProgressOptions {
  /** Draw the progress line (stderr). */
  progress: boolean;
  /** Print evaluations (stderr). */
  printEval: boolean;
  quiet?: boolean;
}

/** Hooks that print a run on stderr. */
export function progressHooks(o: ProgressOptions, extra: TrainRunHooks = {}): TrainRunHooks {
  const err = process.stderr;
  const tty = err.isTTY === true;
  let drawn = false;
  let lastTwentieth = 0;
  const clear = () => {
    if (drawn && tty) err.write('\r\x1b[K');
    drawn = false;
  };
  const line = (s: string) => {
    clear();
    err.write(`${s}\n`);
  };
  return {
    ...extra,
    onStart: (r) => {
      if (!o.quiet) line(formatStart(r));
      extra.onStart?.(r);
    },
    onStep: (s) => {
      extra.onStep?.(s);
      if (!o.progress) return;
      const p = runProgress(s);
      const text = formatStepProgress(s, p);
      const twentieth = Math.floor(p.fraction * 20);
      if (tty) {
        err.write(`\r${text}\x1b[K`);
        drawn = true;
      } else if (twentieth > lastTwentieth || s.step === p.endStep) err.write(`${text}\n`); // a log: about every 5%, and the last step
      lastTwentieth = twentieth;
    },
    onEval: (step, ev) => {
      if (o.printEval) line(formatEval(step, ev));
      extra.onEval?.(step, ev);
    },
    onCheckpoint: (step, dir, reason) => {
      if (reason !== 'periodic' && reason !== 'end') line(`checkpoint of step ${step} saved: ${dir}`);
      extra.onCheckpoint?.(step, dir, reason);
    },
    onWarning: (m) => {
      line(`warning: ${m}`);
      extra.onWarning?.(m);
    },
  };
}
