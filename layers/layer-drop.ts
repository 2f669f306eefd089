/**
 * LayerDrop (HF: in training, `if torch.rand([]) < layerdrop: skip the layer`).
 * Never drops in eval; draws from the caller's seeded Rng.
 */
import { PolyglotError } from '../core/errors.js';
import type { RunOptions } from './base.js';

export function layerDropSkips(rate: number, opts: RunOptions): boolean {
  if (!opts.training || rate <= 0) return false;
  if (!opts.rng) throw new PolyglotError('layerdrop: training mode needs an rng (forward option "rng")');
  return opts.rng.uniform() < rate;
}
