/**
 * Which parameters train: `--train-only` globs (only matching names train) and `--freeze`
 * globs (matching names do not), matched against HF parameter names. `*` matches within a
 * dotted segment, `**` across segments; e.g. `--train-only '*.ffn.experts.**' '*.ffn.router.**'`
 * trains only the experts and routers of an NLLB-MoE.
 */
import { PolyglotError } from '../core/errors.js';

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^.]*';
    } else if (c === '?') re += '[^.]';
    else re += c.replace(/[\\^$+.()|{}[\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export interface FreezeOptions {
  trainOnly?: string[];
  freeze?: string[];
}

/** Returns a predicate "does this parameter train?" and checks every glob matches something. */
export function trainablePredicate(names: string[], o: FreezeOptions): (name: string) => boolean {
  const only = (o.trainOnly ?? []).map((g) => [g, globToRegExp(g)] as const);
  const frozen = (o.freeze ?? []).map((g) => [g, globToRegExp(g)] as const);
  for (const [flag, list] of [['--train-only', only], ['--freeze', frozen]] as const) {
    for (const [g, re] of list) {
      if (!names.some((n) => re.test(n))) {
        throw new PolyglotError(`${flag} "${g}": matches no parameter (names look like "${names[0] ?? ''}")`);
      }
    }
  }
  const pred = (name: string): boolean =>
    (only.length === 0 || only.some(([, re]) => re.test(name))) && !frozen.some(([, re]) => re.test(name));
  if (!names.some(pred)) throw new PolyglotError('--train-only/--freeze: no parameter is left to train');
  return pred;
}
