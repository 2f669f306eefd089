/**
 * Weight-only int8 quantization: per-output-channel symmetric int8 with one float32 scale
 * per output channel (scale = max |w| / 127 over the channel's inputs, q = round(w / scale)).
 * The format `polyglot quantize` stores (docs/QUANTIZATION.md) and `--weights int8` builds
 * on the fly. Pure math, no backend.
 */

export interface Int8Quantized {
  /** [out, in]: one output channel per row (the layout HF stores nn.Linear weights in). */
  q: Int8Array;
  /** [out] */
  scale: Float32Array;
  inFeatures: number;
  outFeatures: number;
}

/** Quantizes w stored [in, out] (our Linear kernel layout) per output channel. */
export function quantizeInt8(w: Float32Array, inFeatures: number, outFeatures: number): Int8Quantized {
  if (w.length !== inFeatures * outFeatures) throw new Error(`quantizeInt8: expected ${inFeatures}x${outFeatures} values, found ${w.length}`);
  const maxAbs = new Float32Array(outFeatures);
  for (let i = 0; i < inFeatures; i++) {
    const row = i * outFeatures;
    for (let j = 0; j < outFeatures; j++) {
      const a = Math.abs(w[row + j]);
      if (a > maxAbs[j]) maxAbs[j] = a;
    }
  }
  const scale = new Float32Array(outFeatures);
  const inv = new Float32Array(outFeatures);
  for (let j = 0; j < outFeatures; j++) {
    // An all-zero channel keeps scale 1 (q = 0) rather than dividing by zero.
    scale[j] = maxAbs[j] > 0 ? maxAbs[j] / 127 : 1;
    inv[j] = 1 / scale[j];
  }
  const q = new Int8Array(inFeatures * outFeatures);
  for (let i = 0; i < inFeatures; i++) {
    const row = i * outFeatures;
    for (let j = 0; j < outFeatures; j++) {
      const v = Math.round(w[row + j] * inv[j]);
      q[j * inFeatures + i] = v > 127 ? 127 : v < -127 ? -127 : v;
    }
  }
  return { q, scale, inFeatures, outFeatures };
}

/** Quantizes w stored [out, in] (an embedding table used as the tied output projection) per row. */
export function quantizeInt8Rows(w: Float32Array, outFeatures: number, inFeatures: number): Int8Quantized {
  if (w.length !== inFeatures * outFeatures) throw new Error(`quantizeInt8Rows: expected ${outFeatures}x${inFeatures} values, found ${w.length}`);
  const q = new Int8Array(w.length);
  const scale = new Float32Array(outFeatures);
  for (let j = 0; j < outFeatures; j++) {
    const row = j * inFeatures;
    let maxAbs = 0;
    for (let i = 0; i < inFeatures; i++) maxAbs = Math.max(maxAbs, Math.abs(w[row + i]));
    scale[j] = maxAbs > 0 ? maxAbs / 127 : 1;
    const inv = 1 / scale[j];
    for (let i = 0; i < inFeatures; i++) q[row + i] = Math.max(-127, Math.min(127, Math.round(w[row + i] * inv)));
  }
  return { q, scale, inFeatures, outFeatures };
}

/** Back to float32 [in, out] (the fallback when the native kernels are absent). */
export function dequantizeInt8(w: Int8Quantized): Float32Array {
  const { q, scale, inFeatures: k, outFeatures: n } = w;
  const out = new Float32Array(k * n);
  for (let j = 0; j < n; j++) {
    const s = scale[j];
    const row = j * k;
    for (let i = 0; i < k; i++) out[i * n + j] = q[row + i] * s;
  }
  return out;
}
