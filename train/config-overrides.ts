/** `--set field=value` for training: only fields the model's config.json has (a typo is an error naming the closest). */
import { PolyglotError } from '../core/errors.js';
import { closestName } from '../core/closest-name.js';

export function checkOverrideFields(overrides: Record<string, unknown> | undefined, config: Record<string, unknown>, source: string): void {
  for (const key of Object.keys(overrides ?? {})) {
    if (key in config) continue;
    const closest = closestName(key, Object.keys(config));
    const hint = closest ? ` (did you mean ${closest}?)` : '';
    throw new PolyglotError(`--set ${key}: ${source} has no field "${key}"${hint}`);
  }
}
