/**
 * Expert offloading (`--max-memory GB`, issue 14 item 3): an NLLB-MoE whose experts do not fit
 * keeps its dense part resident and reads each expert from the checkpoint when the router first
 * sends it tokens (positional reads of its byte ranges through the checkpoint's `TensorSource`:
 * safetensors `data_offsets`, `.bin` storage records), into an LRU cache whose bytes stay within
 * the budget left after the dense part. Experts are cached in the compute precision: float32
 * tensors on the backend, 16-bit weights in native memory (`--weights bfloat16|float16`: a
 * checkpoint stored in that dtype is cached as its stored bytes, others rounded; the native
 * 16-bit kernel), or per-channel int8 in native memory (`--weights int8`, the same quantization
 * as layers/weight-precision.ts). Without the addon: float32 tensors of the same values.
 *
 * A model is built offloaded by constructing it inside `withExpertStore(store, ...)`: each
 * SparseMLP then registers its experts with the store instead of allocating them
 * (models/pretrained.ts does this when `maxMemoryGB` is given). Inference only: training and
 * graph export need every expert as a variable.
 */
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import type { Ops } from '../../ops/ops.js';
import type { TensorSource } from '../../convert/checkpoint.js';
import { quantizeInt8Rows, dequantizeInt8, type Int8Quantized } from '../../backend/int8-weights.js';
import { Int8Linear } from '../../backend/native-int8.js';
import { roundTo16, w16FromRows, w16FromStored, w16StoredDtype, w16ToKernel, type W16Quantized } from '../../backend/w16-weights.js';
import { W16Linear } from '../../backend/native-w16.js';
import { nativeAddon } from '../../backend/native.js';
import type { RunOptions } from '../base.js';
import { applyActivation, checkActivationName, type ActivationName } from '../activations.js';
import { dropout } from '../dropout.js';

/** The precisions an offloaded expert can be cached in (layers/weight-precision.ts `WeightPrecision`). */
export type ExpertPrecision = 'float32' | 'bfloat16' | 'float16' | 'int8';

/** Bytes per GB in `--max-memory` (decimal, as disk and RAM sizes are usually quoted). */
export const BYTES_PER_GB = 1e9;

const FLOAT_DTYPES = ['F64', 'F32', 'F16', 'BF16'];

/** The shape of one sparse layer's experts (HF NllbMoeDenseActDense: fc1 -> act -> dropout -> fc2). */
export interface OffloadedLayerConfig {
  numExperts: number;
  dModel: number;
  ffnDim: number;
  activationFunction: string;
  activationDropout: number;
}

/** Cache counters of one sparse layer. */
export interface ExpertLayerStats {
  /** e.g. "model.decoder.layers.3.ffn" */
  layer: string;
  hits: number;
  misses: number;
  evictions: number;
  /** Bytes read from the checkpoint (misses x expert size as stored in the file). */
  bytesRead: number;
}

export interface ExpertCacheStats {
  precision: ExpertPrecision;
  /** The whole budget (`--max-memory`). */
  budgetBytes: number;
  /** Resident weights that are not offloaded experts (heap variables + their native int8 copies). */
  denseBytes: number;
  /** What the expert cache may hold: budget - dense. */
  capacityBytes: number;
  /** Bytes of one cached expert in the current precision. */
  expertBytes: number;
  /** Experts of all sparse layers, and their bytes if all were resident. */
  totalExperts: number;
  allExpertBytes: number;
  residentBytes: number;
  /** The most the cache ever held (never above capacityBytes). */
  peakResidentBytes: number;
  layers: ExpertLayerStats[];
}

/** One linear layer of a cached expert: y = x W^T + b. */
interface CachedLinear {
  product(x: tf.Tensor): tf.Tensor;
  bias: tf.Tensor;
  dispose(): void;
}

interface CachedExpert {
  fc1: CachedLinear;
  fc2: CachedLinear;
  bytes: number;
}

interface LayerEntry {
  cfg: OffloadedLayerConfig;
  activation: ActivationName;
  stats: ExpertLayerStats;
  /** Checkpoint bytes of one expert (for bytesRead). */
  storedBytes: number;
}

export interface ExpertStoreOptions {
  tensors: TensorSource;
  /** Parameter HF name -> checkpoint tensor name (the format's `checkpointName`), undefined when absent. */
  checkpointName: (hfName: string) => string | undefined;
  /** The whole weight budget in bytes. */
  budgetBytes: number;
  /** The model folder, for errors. */
  source: string;
  /** A stored int8 weight (a `polyglot quantize` checkpoint) by checkpoint name, used as is with `--weights int8`. */
  readInt8?: (checkpointName: string) => Int8Quantized | undefined;
  /** A tensor's stored bytes by checkpoint name (undefined where the format cannot give them): 16-bit experts kept as stored. */
  readBytes?: (checkpointName: string) => Uint8Array | undefined;
}

function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function gb(bytes: number): string {
  return `${Number((bytes / BYTES_PER_GB).toPrecision(3))} GB`;
}

/** Bytes rounded up to 3 significant digits of GB, so the number printed as a minimum really is enough. */
function gbAtLeast(bytes: number): string {
  const v = bytes / BYTES_PER_GB;
  const step = 10 ** (Math.floor(Math.log10(v)) - 2);
  return `${Number((Math.ceil(v / step) * step).toPrecision(3))} GB`;
}

export class ExpertStore {
  private readonly opts: ExpertStoreOptions;
  private readonly layers = new Map<string, LayerEntry>();
  /** LRU order: the first key is the least recently used. */
  private readonly cache = new Map<string, CachedExpert>();
  private precision: ExpertPrecision = 'float32';
  private denseBytes = 0;
  private residentBytes = 0;
  private peakResidentBytes = 0;

  constructor(opts: ExpertStoreOptions) {
    if (!(opts.budgetBytes > 0) || !Number.isFinite(opts.budgetBytes)) {
      throw new PolyglotError(`--max-memory: expected a positive number of GB, found ${opts.budgetBytes / BYTES_PER_GB}`);
    }
    this.opts = opts;
  }

  /** Registers a sparse layer's experts (headers checked now; no data read). */
  addLayer(prefix: string, cfg: OffloadedLayerConfig): OffloadedExperts {
    const { tensors, checkpointName, source } = this.opts;
    let storedBytes = 0;
    const d = cfg.dModel;
    const f = cfg.ffnDim;
    const want: [string, number[]][] = [
      ['fc1.weight', [f, d]],
      ['fc1.bias', [f]],
      ['fc2.weight', [d, f]],
      ['fc2.bias', [d]],
    ];
    for (let e = 0; e < cfg.numExperts; e++) {
      for (const [suffix, shape] of want) {
        const name = `${prefix}.experts.expert_${e}.${suffix}`;
        const ck = checkpointName(name);
        if (ck === undefined || !tensors.has(ck)) throw new PolyglotError(`${source}: missing tensor "${name}" (expected by an NLLB-MoE with this config.json)`);
        const meta = tensors.meta(ck);
        if (meta.shape.join() !== shape.join()) {
          throw new PolyglotError(`${source}: tensor "${ck}": expected shape ${JSON.stringify(shape)}, found ${JSON.stringify(meta.shape)}`);
        }
        if (!FLOAT_DTYPES.includes(meta.dtype)) throw new PolyglotError(`${source}: tensor "${ck}": expected a floating-point tensor, found dtype ${meta.dtype}`);
        if (e === 0) storedBytes += elements(shape) * (meta.dtype === 'F64' ? 8 : meta.dtype === 'F32' ? 4 : 2);
      }
    }
    this.layers.set(prefix, {
      cfg,
      activation: checkActivationName(cfg.activationFunction),
      stats: { layer: prefix, hits: 0, misses: 0, evictions: 0, bytesRead: 0 },
      storedBytes,
    });
    return new OffloadedExperts(this, prefix);
  }

  get layerCount(): number {
    return this.layers.size;
  }

  /** Bytes of the largest expert in the current precision. */
  get expertBytes(): number {
    let max = 0;
    for (const l of this.layers.values()) max = Math.max(max, this.bytesOf(l.cfg));
    return max;
  }

  private bytesOf(cfg: OffloadedLayerConfig): number {
    const { dModel: d, ffnDim: f } = cfg;
    const biases = 4 * (f + d);
    // int8 native: int8 weights + a float32 scale per output channel; otherwise float32 tensors.
    if (this.precision === 'int8' && this.nativeWeights()) return 2 * d * f + 4 * (f + d) + biases;
    if ((this.precision === 'bfloat16' || this.precision === 'float16') && this.nativeWeights()) return 2 * 2 * d * f + biases;
    return 4 * 2 * d * f + biases;
  }

  private nativeWeights(): boolean {
    return nativeAddon() !== undefined && tf.getBackend() === 'wasm';
  }

  private get capacityBytes(): number {
    return this.opts.budgetBytes - this.denseBytes;
  }

  /**
   * Sets the precision experts are cached in and the bytes of the resident (non-offloaded)
   * weights, and checks that the budget leaves room for one expert: the least an offloaded
   * forward needs. The loader calls it once the dense part is loaded, layers/weight-precision.ts
   * again when the precision changes (cached experts are then dropped).
   */
  setResident(precision: ExpertPrecision, denseBytes: number): void {
    if (precision !== this.precision) this.clear();
    this.precision = precision;
    this.denseBytes = denseBytes;
    this.checkBudget();
  }

  private checkBudget(): void {
    if (this.layers.size === 0) {
      if (this.denseBytes > this.opts.budgetBytes) {
        throw new PolyglotError(`--max-memory ${gb(this.opts.budgetBytes)} is below this model's minimum of ${gbAtLeast(this.denseBytes)} (its weights; it has no experts to offload)`);
      }
      return;
    }
    const one = this.expertBytes;
    if (this.capacityBytes < one) {
      throw new PolyglotError(
        `--max-memory ${gb(this.opts.budgetBytes)} is below this model's minimum of ${gbAtLeast(this.denseBytes + one)} (dense part ${gb(this.denseBytes)} + one ${this.precision} expert ${gb(one)})`,
      );
    }
  }

  /** Runs expert `e` of layer `prefix` (eager only) on x [k, d_model]. */
  run<T>(o: Ops<T>, prefix: string, e: number, x: T, opts: RunOptions): T {
    const layer = this.layers.get(prefix)!;
    const expert = this.fetch(layer, e);
    const fc1 = tf.add(expert.fc1.product(x as tf.Tensor), expert.fc1.bias) as unknown as T;
    const h = applyActivation(o, layer.activation, fc1);
    const dropped = dropout(o, h, layer.cfg.activationDropout, opts) as unknown as tf.Tensor;
    return tf.add(expert.fc2.product(dropped), expert.fc2.bias) as unknown as T;
  }

  private fetch(layer: LayerEntry, e: number): CachedExpert {
    const key = `${layer.stats.layer}#${e}`;
    const hit = this.cache.get(key);
    if (hit) {
      layer.stats.hits++;
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    layer.stats.misses++;
    layer.stats.bytesRead += layer.storedBytes;
    const need = this.bytesOf(layer.cfg);
    // Evict before reading, so the cache never holds more than its capacity.
    while (this.residentBytes + need > this.capacityBytes && this.cache.size > 0) {
      const [oldKey, old] = this.cache.entries().next().value as [string, CachedExpert];
      this.cache.delete(oldKey);
      this.disposeExpert(old);
      this.layers.get(oldKey.slice(0, oldKey.lastIndexOf('#')))!.stats.evictions++;
    }
    const prefix = `${layer.stats.layer}.experts.expert_${e}`;
    const expert: CachedExpert = { fc1: this.readLinear(`${prefix}.fc1`), fc2: this.readLinear(`${prefix}.fc2`), bytes: need };
    this.cache.set(key, expert);
    this.residentBytes += need;
    this.peakResidentBytes = Math.max(this.peakResidentBytes, this.residentBytes);
    return expert;
  }

  /** One linear layer read from the checkpoint in HF's [out, in] layout, as the cache keeps it. */
  private readLinear(name: string): CachedLinear {
    // Tensors made here outlive the caller's tf.tidy: kept, and disposed on eviction.
    const p = this.precision;
    const biasValues = this.readFloat(`${name}.bias`).data;
    // 16-bit: biases rounded like the resident model's (layers/weight-precision.ts), kept float32.
    const bias = tf.keep(tf.tensor1d(p === 'bfloat16' || p === 'float16' ? roundTo16(biasValues, p) : biasValues));
    const stored = this.precision === 'int8' ? this.opts.readInt8?.(this.opts.checkpointName(`${name}.weight`)!) : undefined;
    if (this.precision === 'int8') {
      let q = stored;
      if (q === undefined) {
        const w = this.readFloat(`${name}.weight`);
        q = quantizeInt8Rows(w.data, w.shape[0], w.shape[1]);
      }
      if (this.nativeWeights()) {
        const lin = new Int8Linear(q);
        return { product: (x) => lin.apply(x), bias, dispose: () => (lin.dispose(), bias.dispose()) };
      }
      // Without the addon: float32 products of the dequantised weights (as Int8Linear's fallback).
      const w = tf.keep(tf.tensor2d(dequantizeInt8(q), [q.inFeatures, q.outFeatures]));
      return { product: (x) => tf.matMul(x as tf.Tensor2D, w), bias, dispose: () => tf.dispose([w, bias]) };
    }
    if (this.precision === 'bfloat16' || this.precision === 'float16') {
      const h = this.read16(`${name}.weight`, this.precision);
      if (this.nativeWeights()) {
        const lin = new W16Linear(h);
        return { product: (x) => lin.apply(x), bias, dispose: () => (lin.dispose(), bias.dispose()) };
      }
      const w = tf.keep(tf.tensor2d(w16ToKernel(h), [h.inFeatures, h.outFeatures]));
      return { product: (x) => tf.matMul(x as tf.Tensor2D, w), bias, dispose: () => tf.dispose([w, bias]) };
    }
    const weight = this.readFloat(`${name}.weight`);
    const [outF, inF] = weight.shape;
    const data = weight.data;
    // [out, in] -> [in, out], as Linear stores its kernel, so the product is the same matMul.
    const w = tf.keep(tf.tidy(() => tf.transpose(tf.tensor2d(data, [outF, inF]))));
    return { product: (x) => tf.matMul(x as tf.Tensor2D, w), bias, dispose: () => tf.dispose([w, bias]) };
  }

  /** A weight [out, in] as 16-bit: its stored bytes when the checkpoint holds that dtype, else rounded from float32. */
  private read16(hfName: string, dtype: 'bfloat16' | 'float16'): W16Quantized {
    const ck = this.opts.checkpointName(hfName)!;
    const meta = this.opts.tensors.meta(ck);
    const [outF, inF] = meta.shape;
    const stored = meta.dtype === w16StoredDtype(dtype) ? this.opts.readBytes?.(ck) : undefined;
    if (stored !== undefined) return w16FromStored(stored, outF, inF, dtype);
    const w = this.readFloat(hfName);
    return w16FromRows(w.data, outF, inF, dtype);
  }

  private readFloat(hfName: string): { data: Float32Array; shape: number[] } {
    const ck = this.opts.checkpointName(hfName)!;
    const t = this.opts.tensors.read(ck);
    if (!(t.data instanceof Float32Array)) throw new PolyglotError(`${this.opts.source}: tensor "${ck}": expected a floating-point tensor, found dtype ${t.dtype}`);
    return { data: t.data, shape: t.shape };
  }

  private disposeExpert(x: CachedExpert): void {
    x.fc1.dispose();
    x.fc2.dispose();
    this.residentBytes -= x.bytes;
  }

  /** Drops every cached expert (counters stay). */
  clear(): void {
    for (const x of this.cache.values()) this.disposeExpert(x);
    this.cache.clear();
  }

  /** Zeroes the hit / miss counters (e.g. between benchmark runs). */
  resetStats(): void {
    for (const l of this.layers.values()) l.stats = { layer: l.stats.layer, hits: 0, misses: 0, evictions: 0, bytesRead: 0 };
    this.peakResidentBytes = this.residentBytes;
  }

  stats(): ExpertCacheStats {
    let totalExperts = 0;
    let allExpertBytes = 0;
    for (const l of this.layers.values()) {
      totalExperts += l.cfg.numExperts;
      allExpertBytes += l.cfg.numExperts * this.bytesOf(l.cfg);
    }
    return {
      precision: this.precision,
      budgetBytes: this.opts.budgetBytes,
      denseBytes: this.denseBytes,
      capacityBytes: this.capacityBytes,
      expertBytes: this.expertBytes,
      totalExperts,
      allExpertBytes,
      residentBytes: this.residentBytes,
      peakResidentBytes: this.peakResidentBytes,
      layers: [...this.layers.values()].map((l) => ({ ...l.stats })),
    };
  }

  dispose(): void {
    this.clear();
  }
}

/** A sparse layer's view of the store: `run(o, e, x, opts)` = expert e's FFN on x. */
export class OffloadedExperts {
  constructor(
    readonly store: ExpertStore,
    readonly prefix: string,
  ) {}

  /** Eager only (SparseMLP's graph path refuses offloaded experts). */
  run<T>(o: Ops<T>, e: number, x: T, opts: RunOptions): T {
    if (opts.training) throw new PolyglotError(`${this.prefix}: experts are offloaded (--max-memory), which is for inference; train without --max-memory`);
    return this.store.run(o, this.prefix, e, x, opts);
  }
}

let activeStore: ExpertStore | undefined;

/** Runs `build` (which constructs a model) with its sparse layers' experts registered with `store` instead of allocated. */
export function withExpertStore<R>(store: ExpertStore, build: () => R): R {
  const previous = activeStore;
  activeStore = store;
  try {
    return build();
  } finally {
    activeStore = previous;
  }
}

/** The store of the model being constructed, if it is built offloaded. */
export function activeExpertStore(): ExpertStore | undefined {
  return activeStore;
}

/** Bytes of a model's float32 parameters (what stays on the backend besides native int8 weights). */
export function float32ParameterBytes(params: readonly { variable: { shape: readonly (number | null)[] } }[]): number {
  return params.reduce((a, p) => a + 4 * (p.variable.shape as number[]).reduce((x, y) => x * y, 1), 0);
}

/** One-paragraph summary for stderr: totals and the per-layer hits / misses. */
export function formatExpertCacheStats(s: ExpertCacheStats): string {
  const hits = s.layers.reduce((a, l) => a + l.hits, 0);
  const misses = s.layers.reduce((a, l) => a + l.misses, 0);
  const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
  const head =
    `expert cache (${s.precision}): ${hits} hits, ${misses} misses; peak ${mb(s.peakResidentBytes)} of ${mb(s.capacityBytes)} ` +
    `(budget ${mb(s.budgetBytes)} - dense ${mb(s.denseBytes)}); all ${s.totalExperts} experts would take ${mb(s.allExpertBytes)}`;
  const rows = s.layers.map((l) => `  ${l.layer.replace(/^model\./, '').replace(/\.ffn$/, '')}: ${l.hits} hits, ${l.misses} misses, ${l.evictions} evictions`);
  return [head, ...rows].join('\n');
}
