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
  for (let i = 0; i < refVals.length; i++) {
    if (mask && mask.data[Math.floor(i / inner)] === 0) continue;
    const v = Number(actual.data[i]);
    const r = refVals[i];
    const abs = Math.abs(v - r);
    const rel = abs / Math.max(Math.abs(r), 1e-12);
    if (!(abs <= maxAbs)) maxAbs = Number.isNaN(abs) ? Infinity : abs;
    if (rel > maxRel || Number.isNaN(rel)) maxRel = Number.isNaN(rel) ? Infinity : rel;
    const good = exact ? v === r : abs <= atol + rtol * Math.abs(r);
    if (!good) {
      ok = false;
      mismatches++;
    }
  }
  return { key, maxAbsError: maxAbs, maxRelError: maxRel, ok, message: ok ? undefined : `${key}: ${mismatches} element(s) out of tolerance` };
}
