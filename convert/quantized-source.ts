/**
 * A checkpoint's int8 linear weights as `polyglot quantize` writes them (docs/QUANTIZATION.md):
 * `<module>.weight` I8 [out, in] beside `<module>.weight_scale` F32 [out], w[j, i] = q[j, i] * scale[j].
 * `Int8AwareSource` presents each such pair as one float tensor (dequantised on read) and keeps
 * the raw int8 reachable (`int8`) for loaders that keep it, never building a float32 copy.
 */
import { PolyglotError } from '../core/errors.js';
import type { Int8Quantized } from '../backend/int8-weights.js';
import type { HostTensor } from './safetensors.js';
import type { TensorMeta, TensorSource } from './checkpoint.js';

/** The scale tensor's name for an int8 weight. */
export function int8ScaleName(weightName: string): string {
  return `${weightName}_scale`;
}

function shapeText(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

export class Int8AwareSource implements TensorSource {
  /** int8 weight name -> its scale's name. */
  private readonly pairs = new Map<string, string>();
  private readonly scales = new Set<string>();
  /** Names a loader took as int8 (not parameters of the built model; hidden from its checks). */
  private readonly consumed = new Set<string>();

  constructor(
    private readonly inner: TensorSource,
    private readonly where: string,
  ) {
    for (const name of inner.names()) {
      const meta = inner.meta(name);
      if (meta.dtype !== 'I8') continue;
      const at = `${meta.file}: tensor "${name}"`;
      if (meta.shape.length !== 2) throw new PolyglotError(`${at}: expected an int8 linear weight [out, in], found I8 ${shapeText(meta.shape)}`);
      const scaleName = int8ScaleName(name);
      if (!inner.has(scaleName)) throw new PolyglotError(`${at}: int8 weight without its scale: expected a tensor "${scaleName}" F32 [${meta.shape[0]}], found none`);
      const scale = inner.meta(scaleName);
      if (scale.dtype !== 'F32' || scale.shape.length !== 1 || scale.shape[0] !== meta.shape[0]) {
        throw new PolyglotError(`${scale.file}: tensor "${scaleName}": expected F32 [${meta.shape[0]}] (one scale per output channel of "${name}"), found ${scale.dtype} ${shapeText(scale.shape)}`);
      }
      this.pairs.set(name, scaleName);
      this.scales.add(scaleName);
    }
  }

  /** Whether the checkpoint stores any int8 weight. */
  get hasInt8(): boolean {
    return this.pairs.size > 0;
  }

  isInt8(name: string): boolean {
    return this.pairs.has(name);
  }

  names(): string[] {
    return this.inner.names().filter((n) => !this.scales.has(n) && !this.consumed.has(n));
  }

  has(name: string): boolean {
    return this.inner.has(name) && !this.scales.has(name) && !this.consumed.has(name);
  }

  meta(name: string): TensorMeta {
    const m = this.inner.meta(name);
    return this.pairs.has(name) ? { ...m, dtype: 'F32' } : m;
  }

  /** Floats as float32; an int8 weight dequantised ([out, in]). */
  read(name: string): HostTensor {
    if (!this.pairs.has(name)) return this.inner.read(name);
    const w = this.int8(name);
    const out = new Float32Array(w.q.length);
    for (let j = 0; j < w.outFeatures; j++) {
      const s = w.scale[j];
      const row = j * w.inFeatures;
      for (let i = 0; i < w.inFeatures; i++) out[row + i] = w.q[row + i] * s;
    }
    return { dtype: 'F32', shape: [w.outFeatures, w.inFeatures], data: out };
  }

  /** Stored bytes of a tensor that is not an int8 pair, when the inner source can give them (else undefined). */
  storedBytes(name: string): Uint8Array | undefined {
    if (this.pairs.has(name) || this.inner.readBytes === undefined) return undefined;
    const inner = this.inner as TensorSource & { hasBytes?(n: string): boolean };
    if (inner.hasBytes !== undefined && !inner.hasBytes(name)) return undefined;
    return this.inner.readBytes(name);
  }

  aliasOf(name: string): string | undefined {
    return this.inner.aliasOf?.(name);
  }

  /** The stored int8 weight and its scales (validated: finite, non-negative). */
  int8(name: string): Int8Quantized {
    const scaleName = this.pairs.get(name);
    if (scaleName === undefined) throw new PolyglotError(`${this.where}: tensor "${name}" is not an int8 weight`);
    const q = this.inner.read(name);
    const s = this.inner.read(scaleName);
    const [outFeatures, inFeatures] = q.shape;
    const scale = s.data as Float32Array;
    for (let j = 0; j < scale.length; j++) {
      if (!(Number.isFinite(scale[j]) && scale[j] >= 0)) {
        throw new PolyglotError(`${this.inner.meta(scaleName).file}: tensor "${scaleName}": expected finite non-negative scales, found ${scale[j]} at channel ${j}`);
      }
    }
    return { q: Int8Array.from(q.data as Int32Array), scale, inFeatures, outFeatures };
  }

  /** Marks an int8-loaded weight (and its scale) as used: later checks do not see it. */
  consume(name: string): void {
    this.consumed.add(name);
  }
}
