/**
 * How `polyglot train` and `polyglot demo` show a run: the start summary, a progress line on
 * stderr (redrawn on a TTY, every ~5% otherwise), evaluations, checkpoints and warnings. The
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
      const done = s.step - s.firstStep;
      let eta = done > 0 ? ((s.maxSteps - s.step) * s.elapsedSeconds) / done : 0;
      if (s.timeBudgetSeconds !== undefined) eta = Math.min(eta, Math.max(0, s.timeBudgetSeconds - s.elapsedSeconds));
      const width = 24;
      const filled = Math.round((s.step / s.maxSteps) * width);
      const bar = `${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}`;
      const text = `step ${s.step}/${s.maxSteps} [${bar}] ${lossText(s)} lr ${s.lr.toExponential(2)} ${s.tokensPerSecond.toFixed(0)} tok/s ETA ${formatDuration(eta)}`;
      if (tty) {
        err.write(`\r${text}\x1b[K`);
        drawn = true;
      } else if (s.step % Math.max(1, Math.floor(s.maxSteps / 20)) === 0 || s.step === s.maxSteps) err.write(`${text}\n`);
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
