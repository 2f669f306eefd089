/** Tolerance check of FORMAT.md: |v - ref| <= atol + rtol * |ref| elementwise; ints exactly. */
import type { ActualOutput, OutputComparison } from './types.js';
import type { HostTensor } from '../convert/safetensors.js';

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function compareOutput(key: string, actual: ActualOutput, ref: HostTensor, rtol: number, atol: number): OutputComparison {
  const exact = ref.data instanceof BigInt64Array || ref.data instanceof Int32Array;
  const refVals: ArrayLike<number> = ref.data instanceof BigInt64Array ? Array.from(ref.data, Number) : (ref.data as ArrayLike<number>);
  if (!sameShape(actual.shape, ref.shape)) {
    return { key, maxAbsError: Infinity, maxRelError: Infinity, ok: false, message: `${key}: shape ${JSON.stringify(actual.shape)}, expected ${JSON.stringify(ref.shape)}` };
  }
  // Per-position outputs: positions where the mask is 0 are padding and not compared.
  let inner = 1;
  const mask = actual.positionMask;
  if (mask) {
    const [b, t] = mask.shape;
    inner = refVals.length / (b * t);
  }
  let maxAbs = 0;
  let maxRel = 0;
  let ok = true;
  let mismatches = 0;
  let deciding: OutputComparison['deciding'];
  let decidingRatio = -1;
  for (let i = 0; i < refVals.length; i++) {
    if (mask && mask.data[Math.floor(i / inner)] === 0) continue;
    const v = Number(actual.data[i]);
    const r = refVals[i];
    const abs = Math.abs(v - r);
    const rel = abs / Math.max(Math.abs(r), 1e-12);
    if (!(abs <= maxAbs)) maxAbs = Number.isNaN(abs) ? Infinity : abs;
    if (rel > maxRel || Number.isNaN(rel)) maxRel = Number.isNaN(rel) ? Infinity : rel;
    const bound = atol + rtol * Math.abs(r);
    const good = exact ? v === r : abs <= bound;
    const ratio = Number.isNaN(abs) ? Infinity : abs === 0 ? 0 : abs / bound;
    if (!exact && ratio > decidingRatio) {
      decidingRatio = ratio;
      deciding = { absError: Number.isNaN(abs) ? Infinity : abs, refAbs: Math.abs(r), bound };
    }
    if (!good) {
      ok = false;
      mismatches++;
    }
  }
  return { key, maxAbsError: maxAbs, maxRelError: maxRel, ok, message: ok ? undefined : `${key}: ${mismatches} element(s) out of tolerance`, deciding };
}

const sci = (x: number): string => (Number.isFinite(x) ? x.toExponential(1) : String(x));

/**
 * The rule that decided a case, on its deciding element: `|a-b| 3.0e-6 <= atol 1e-4 + rtol 1e-3*|b|`.
 * A large relative error beside "pass" is then visibly an element whose reference is near 0,
 * where atol decides (FORMAT.md's elementwise rule).
 */
export function describeCheck(outputs: readonly OutputComparison[], rtol: number, atol: number): string {
  let worst: OutputComparison | undefined;
  for (const o of outputs) {
    if (!o.deciding) continue;
    const ratio = (d: NonNullable<OutputComparison['deciding']>) => (d.absError === 0 ? 0 : d.absError / d.bound);
    if (!worst || ratio(o.deciding) > ratio(worst.deciding!)) worst = o;
  }
  if (!worst) return 'exact match required';
  const d = worst.deciding!;
  const rel = d.absError <= d.bound ? '<=' : '>';
  return `|a-b| ${sci(d.absError)} ${rel} atol ${atol} + rtol ${rtol}*|b| = ${sci(d.bound)} (|b| ${sci(d.refAbs)}, ${worst.key})`;
}

/** Exact comparison of literal values (token ids, tokens, decoded text): reports the first difference. */
export function compareExact(key: string, actual: unknown, expected: unknown): OutputComparison {
  if (typeof expected === 'string') {
    if (actual === expected) return { key, maxAbsError: 0, maxRelError: 0, ok: true };
    let i = 0;
    const a = String(actual);
    while (i < a.length && i < expected.length && a[i] === expected[i]) i++;
    return { key, maxAbsError: Infinity, maxRelError: Infinity, ok: false, message: `${key}: differs at character ${i}: expected ${JSON.stringify(expected.slice(i, i + 20))}, found ${JSON.stringify(a.slice(i, i + 20))}` };
  }
  const e = expected as (number | string)[];
  const a = actual as (number | string)[];
  let first = -1;
  let maxAbs = 0;
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) {
      if (first < 0) first = i;
      maxAbs = typeof e[i] === 'number' && typeof a[i] === 'number' ? Math.max(maxAbs, Math.abs((a[i] as number) - (e[i] as number))) : Infinity;
    }
  }
  if (a.length !== e.length) maxAbs = Infinity;
  if (first < 0) return { key, maxAbsError: 0, maxRelError: 0, ok: true };
  return {
    key,
    maxAbsError: maxAbs,
    maxRelError: maxAbs,
    ok: false,
    message: `${key}: ${a.length !== e.length ? `length ${a.length}, expected ${e.length}; ` : ''}first difference at ${first}: expected ${JSON.stringify(e[first])}, found ${JSON.stringify(a[first])}`,
  };
}
