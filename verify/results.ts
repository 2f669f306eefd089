/** A case's CaseResult from its output comparisons, or from the error it threw: one rule for every fixture kind. */
import { PolyglotError } from '../core/errors.js';
import type { CaseResult, OutputComparison } from './types.js';
import { describeCheck } from './compare.js';

/** The fields a case's result has whatever happened. */
export type CaseBase = Pick<CaseResult, 'fixture' | 'case' | 'kind' | 'rtol' | 'atol'>;

/** Passes when every output does; the worst errors over all outputs; the failing outputs' messages. */
export function resultFromOutputs(base: CaseBase, outputs: OutputComparison[]): CaseResult {
  const ok = outputs.every((o) => o.ok);
  return {
    ...base,
    status: ok ? 'pass' : 'fail',
    maxAbsError: Math.max(0, ...outputs.map((o) => o.maxAbsError)),
    maxRelError: Math.max(0, ...outputs.map((o) => o.maxRelError)),
    outputs,
    message: ok ? undefined : outputs.filter((o) => !o.ok).map((o) => o.message).join('; '),
    check: describeCheck(outputs, base.rtol, base.atol),
  };
}

/** A case that threw fails with the error's message (a PolyglotError's as is, others with their name). */
export function resultFromError(base: CaseBase, e: unknown): CaseResult {
  const message = e instanceof PolyglotError ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
  return { ...base, status: 'fail', maxAbsError: NaN, maxRelError: NaN, outputs: [], message };
}
