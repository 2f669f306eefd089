/** Train / validation split of a corpus: a seeded held-out fraction of the examples. */
import { PolyglotError } from '../../core/errors.js';
import { Rng } from '../../core/random.js';
import { permute } from './sampler.js';

export interface Split {
  train: Uint32Array;
  eval: Uint32Array;
}

/** All indices 0..n-1. */
export function allIndices(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/**
 * Holds out round(n * fraction) examples (at least 1, leaving at least 1 for training), chosen by a
 * permutation from `seed`; both parts are returned in corpus order. Same seed -> same split.
 */
export function heldOutSplit(n: number, fraction: number, seed: number): Split {
  if (!(fraction >= 0 && fraction < 1)) throw new PolyglotError(`eval fraction: expected a number in [0, 1), found ${fraction}`);
  if (fraction === 0) return { train: allIndices(n), eval: new Uint32Array(0) };
  if (n < 2) throw new PolyglotError(`eval fraction ${fraction}: the data has ${n} example(s); need at least 2 to hold some out`);
  const k = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  // a stream of its own, so the split does not move when the shuffling seed use changes
  const perm = permute(allIndices(n), new Rng((seed ^ 0x5eed5011) >>> 0));
  const ev = perm.slice(0, k).sort();
  const tr = perm.slice(k).sort();
  return { train: tr, eval: ev };
}
