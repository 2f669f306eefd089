/** `--set field=value` for training: only fields the model's config.json has (a typo is an error naming the closest). */
import { PolyglotError } from '../core/errors.js';

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

export function checkOverrideFields(overrides: Record<string, unknown> | undefined, config: Record<string, unknown>, source: string): void {
  const known = Object.keys(config);
  for (const key of Object.keys(overrides ?? {})) {
    if (key in config) continue;
    const closest = known.map((k) => [k, editDistance(key, k)] as const).sort((a, b) => a[1] - b[1])[0];
    const hint = closest && closest[1] <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean ${closest[0]}?)` : '';
    throw new PolyglotError(`--set ${key}: ${source} has no field "${key}"${hint}`);
  }
}
