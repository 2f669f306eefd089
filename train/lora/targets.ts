/**
 * Which Linear modules get LoRA adapters. peft's rule (tuners_utils.check_target_module_exists):
 * `target_modules` as a list matches a module whose name equals an entry or ends with "." + entry;
 * as a string it is a regular expression the whole module name must match (re.fullmatch).
 * Our `--lora-targets` also takes globs (`*` within a dotted segment, `**` across, as --train-only);
 * those are written to adapter_config.json as one regular expression, which peft reads the same way.
 */
import { PolyglotError } from '../../core/errors.js';
import { globToRegExp } from '../freeze.js';

/** peft's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING has no xglm / m2m_100 / nllb-moe entry
 * (peft then requires target_modules); we use what it lists for the Bart family they belong to
 * (bart, opt: the query and value projections). */
export const DEFAULT_LORA_TARGETS = ['q_proj', 'v_proj'];

export type PeftTargetModules = string[] | string;

const isGlob = (t: string) => /[*?]/.test(t);

/** The adapter_config.json `target_modules` for the CLI's target list. */
export function peftTargetModules(targets: string[]): PeftTargetModules {
  if (!targets.some(isGlob)) return [...new Set(targets)].sort();
  const parts = targets.map((t) => (isGlob(t) ? globToRegExp(t).source.slice(1, -1) : `(?:.*\\.)?${t.replace(/[\\^$+.()|{}[\]*?]/g, '\\$&')}`));
  return parts.length === 1 ? parts[0] : `(?:${parts.join('|')})`;
}

/** peft's matching rule for one module name. */
export function matchesTarget(target: PeftTargetModules, module: string): boolean {
  if (typeof target === 'string') return new RegExp(`^(?:${target})$`).test(module);
  return target.some((t) => module === t || module.endsWith(`.${t}`));
}

/** The target modules among `modules`; errors (as peft does) when nothing matches. */
export function selectTargets(target: PeftTargetModules, modules: string[], where: string): string[] {
  let re: RegExp | undefined;
  if (typeof target === 'string') {
    try {
      re = new RegExp(`^(?:${target})$`);
    } catch {
      throw new PolyglotError(`${where}: target_modules: expected a regular expression, found ${JSON.stringify(target)}`);
    }
  }
  const chosen = modules.filter((m) => (re ? re.test(m) : matchesTarget(target, m)));
  if (chosen.length === 0) {
    throw new PolyglotError(`${where}: target_modules ${JSON.stringify(target)}: matches no Linear module of the model (names look like "${modules[0] ?? ''}")`);
  }
  return chosen;
}
