/**
 * Learning-rate schedules with HF `transformers.optimization` formulas. A schedule maps
 * the 0-based optimizer step (the value of LambdaLR's internal counter when the step
 * runs) to a multiplier of the base lr; as in HF, step 0 of a warmup gets lr 0.
 */
import { PolyglotError } from '../core/errors.js';

export type ScheduleName = 'constant' | 'linear' | 'cosine' | 'inverse_sqrt';
export const SCHEDULE_NAMES: readonly ScheduleName[] = ['constant', 'linear', 'cosine', 'inverse_sqrt'];

export interface ScheduleOptions {
  name: ScheduleName;
  warmupSteps?: number;
  /** Total optimizer steps (linear / cosine decay to 0 at this step). */
  totalSteps?: number;
  /** inverse_sqrt: HF's `timescale` (default: warmup steps, or 10000 without warmup). */
  timescale?: number;
  /** cosine: HF's num_cycles (0.5 = one half cosine down to 0). */
  numCycles?: number;
}

function warmup(step: number, w: number): number {
  return step / Math.max(1, w);
}

/** The multiplier of the base learning rate at 0-based optimizer step `step`. */
export function lrMultiplier(step: number, o: ScheduleOptions): number {
  const w = o.warmupSteps ?? 0;
  switch (o.name) {
    case 'constant':
      // get_constant_schedule_with_warmup (== get_constant_schedule when w = 0)
      return step < w ? warmup(step, w) : 1;
    case 'linear': {
      // get_linear_schedule_with_warmup
      const total = requireTotal(o);
      if (step < w) return warmup(step, w);
      return Math.max(0, (total - step) / Math.max(1, total - w));
    }
    case 'cosine': {
      // get_cosine_schedule_with_warmup
      const total = requireTotal(o);
      if (step < w) return warmup(step, w);
      const progress = (step - w) / Math.max(1, total - w);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * (o.numCycles ?? 0.5) * 2 * progress)));
    }
    case 'inverse_sqrt': {
      // get_inverse_sqrt_schedule
      if (step < w) return warmup(step, w);
      const timescale = o.timescale ?? (w || 10000);
      const shift = timescale - w;
      return 1 / Math.sqrt((step + shift) / timescale);
    }
    default:
      throw new PolyglotError(`--schedule: expected one of ${SCHEDULE_NAMES.join(', ')}, found "${String((o as { name: unknown }).name)}"`);
  }
}

function requireTotal(o: ScheduleOptions): number {
  if (o.totalSteps === undefined || !(o.totalSteps > 0)) {
    throw new PolyglotError(`schedule "${o.name}": needs the total number of steps (--max-steps or --epochs), found ${o.totalSteps}`);
  }
  return o.totalSteps;
}

export function parseScheduleName(s: string): ScheduleName {
  const n = s.replace(/-/g, '_');
  if (!(SCHEDULE_NAMES as readonly string[]).includes(n)) {
    throw new PolyglotError(`--schedule: expected one of ${SCHEDULE_NAMES.join(', ')}, found "${s}"`);
  }
  return n as ScheduleName;
}
