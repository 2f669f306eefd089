/**
 * The pre-LayerNorm residual sub-block of HF XGLM and NLLB-MoE layers:
 *   h = h + dropout(sublayer(norm(h)))
 * (self-attention, cross-attention and FFN all take this form; only the sublayer and rate differ).
 */
import type { Ops } from '../ops/ops.js';
import type { RunOptions } from './base.js';
import { dropout } from './dropout.js';
import type { LayerNorm } from './layer-norm.js';

/** Runs `sublayer` on norm(hidden) and adds its dropped-out `output` back; also returns the sublayer's whole result (KV cache, router). */
export function preNormResidual<T, R extends { output: T }>(
  o: Ops<T>,
  hidden: T,
  norm: LayerNorm,
  sublayer: (x: T) => R,
  rate: number,
  opts: RunOptions,
): { hidden: T; result: R } {
  const result = sublayer(norm.run(o, hidden));
  return { hidden: o.add(hidden, dropout(o, result.output, rate, opts)), result };
}

/** An attention sub-block's result as the decoder layers pass it on: the new hidden state and the cache. */
export function residualWithPresent<T, P>(r: { hidden: T; result: { present: P } }): { hidden: T; present: P } {
  return { hidden: r.hidden, present: r.result.present };
}
