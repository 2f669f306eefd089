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
  /**
   * The checkpoint format's own spelling of a parameter name (HF's save_pretrained name), which
   * globs may use too: an M2M-100 / NLLB-200 user writes `**.fc1.*` or `**.encoder_attn.**` for
   * what our NLLB-MoE layers call `ffn.fc1` and `cross_attention` (models/nllb-moe/m2m100-names.ts).
   */
  alias?: (name: string) => string | undefined;
}

/** "Does the glob match this parameter?", by our name or the format's spelling of it. */
export function globMatcher(glob: string, alias?: FreezeOptions['alias']): (name: string) => boolean {
  const re = globToRegExp(glob);
  return (name) => {
    if (re.test(name)) return true;
    const other = alias?.(name);
    return other !== undefined && other !== name && re.test(other);
  };
}

/** Returns a predicate "does this parameter train?" and checks every glob matches something. */
export function trainablePredicate(names: string[], o: FreezeOptions): (name: string) => boolean {
  const only = (o.trainOnly ?? []).map((g) => [g, globMatcher(g, o.alias)] as const);
  const frozen = (o.freeze ?? []).map((g) => [g, globMatcher(g, o.alias)] as const);
  for (const [flag, list] of [['--train-only', only], ['--freeze', frozen]] as const) {
    for (const [g, matches] of list) {
      if (!names.some(matches)) {
        throw new PolyglotError(`${flag} "${g}": matches no parameter (names look like "${names[0] ?? ''}")`);
      }
    }
  }
  const pred = (name: string): boolean =>
    (only.length === 0 || only.some(([, matches]) => matches(name))) && !frozen.some(([, matches]) => matches(name));
  if (!names.some(pred)) throw new PolyglotError('--train-only/--freeze: no parameter is left to train');
  return pred;
}
