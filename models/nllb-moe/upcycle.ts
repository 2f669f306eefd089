/**
 * Sparse upcycling (Komatsuzaki et al. 2022, "Sparse Upcycling: Training Mixture-of-Experts from
 * Dense Checkpoints"): a dense NLLB-200 / M2M-100 checkpoint (or an NLLB-MoE with dense layers)
 * becomes an NLLB-MoE checkpoint (`model_type` "nllb-moe", HF names, loadable by transformers'
 * NllbMoeForConditionalGeneration) whose chosen layers' FFN is E experts, each a copy of the dense
 * FFN, plus a new top-2 router. docs/upcycling.md explains the router initialisation.
 *
 * Why the upcycled model computes the dense function: NLLB-MoE's top-2 gates are normalised after
 * capacity, g1 = p1 / (p1 + p2) and g2 = p2 / (p1 + p2), so for a token that keeps both experts
 * g1 * FFN(x) + g2 * FFN(x) = FFN(x) whatever the router says. That needs no capacity drop (eval:
 * moe_eval_capacity_token_fraction 1.0 never drops), moe_token_dropout 0 (eval multiplies expert
 * outputs by 1 - p) and no expert noise. Padding tokens are not routed (their FFN output is 0),
 * which changes only padding positions.
 *
 * Works on the state dict, one tensor resident at a time (no model is built), so the shape of
 * NLLB-200-3.3B upcycles in the memory of one tensor.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../../core/errors.js';
import { Rng } from '../../core/random.js';
import type { HfCheckpoint } from '../../convert/checkpoint.js';
import { writeHfModelDir, type HfExtraFile, type HfTensorToWrite, type HfWriteResult } from '../../convert/hf-writer.js';
import type { TorchFloatName } from '../../convert/dtypes.js';
import { readsModelType } from '../checkpoint-format.js';
import { isSparseLayer, parseNllbMoeConfig, type NllbMoeConfig } from './config.js';
import { nllbMoeFormat } from './format.js';

export interface UpcycleOptions {
  /** Experts per sparse layer (>= 2: top-2 routing). */
  experts: number;
  /** Layer i of each side becomes sparse iff (i + 1) % step == 0 (HF's rule); default 2 (every other layer, as Komatsuzaki et al.). */
  sparseStep?: number;
  /** Or explicit layers: "3" (both sides), "encoder.3", "decoder.1"; must be a set HF's step rule can express. */
  sparseLayers?: string[];
  /** config `expert_capacity` (training capacity per expert); null = 2 * ceil(tokens / experts). Default: the source's, else HF's 64. */
  capacity?: number | null;
  /** Std of Gaussian noise added to each expert copy's weights (breaks exact equivalence; default 0). */
  expertNoise?: number;
  /** Std of the router's normal initialisation; default the config's init_std (HF's _init_weights for Linear). */
  routerStd?: number;
  /** config `moe_token_dropout` of the result (default 0: eval output unchanged). */
  moeTokenDropout?: number;
  seed?: number;
  dtype?: TorchFloatName;
  overwrite?: boolean;
}

/** A dense source as NLLB-MoE sees it: parsed config and a name mapping from its HF names. */
export interface DenseSource {
  ck: HfCheckpoint;
  config: NllbMoeConfig;
  /** The source's HF name -> NLLB-MoE name (identity for nllb-moe sources). */
  toNllbMoeName: (name: string) => string;
  /** Source keys the model never loads (stale buffers); skipped. */
  isIgnored?: (name: string) => boolean;
}

export interface UpcycleResult extends HfWriteResult {
  config: Record<string, unknown>;
  sparseLayers: { encoder: number[]; decoder: number[] };
  /** Parameters of the written checkpoint (distinct tensors), and of the source. */
  parameters: number;
  sourceParameters: number;
}

const SHARED = 'model.shared.weight';
const EMBED_ALIASES = ['model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight'];
/** HF NllbMoeConfig defaults of the MoE fields (configuration_nllb_moe.py). */
const MOE_DEFAULTS: Record<string, unknown> = {
  router_bias: false,
  router_dtype: 'float32',
  router_ignore_padding_tokens: false,
  expert_capacity: 64,
  router_z_loss_coef: 0.001,
  router_aux_loss_coef: 0.001,
  second_expert_policy: 'all',
  normalize_router_prob_before_dropping: false,
  batch_prioritized_routing: false,
  moe_eval_capacity_token_fraction: 1.0,
  output_router_logits: false,
};

function layersOf(n: number, step: number): number[] {
  return Array.from({ length: n }, (_, i) => i).filter((i) => isSparseLayer(i, step));
}

/** The HF sparse step whose layer set is exactly `wanted` on a side of `n` layers (0 = none). */
function stepFor(side: string, n: number, wanted: number[]): number {
  if (wanted.length === 0) return 0;
  const key = [...wanted].sort((a, b) => a - b).join(',');
  for (let s = 1; s <= n; s++) if (layersOf(n, s).join(',') === key) return s;
  throw new PolyglotError(
    `--sparse-layers: ${side} layers [${key}] cannot be written as an HF NllbMoeConfig, which makes layer i sparse iff (i + 1) % sparse_step == 0 (e.g. step 2 = ${layersOf(n, 2).join(', ') || 'none'}); choose such a set`,
  );
}

/** Per-side sparse steps from the options. */
export function upcycleSteps(c: NllbMoeConfig, o: Pick<UpcycleOptions, 'sparseStep' | 'sparseLayers'>): { encoder: number; decoder: number } {
  if (o.sparseLayers !== undefined && o.sparseStep !== undefined) throw new PolyglotError('give --sparse-step or --sparse-layers, not both');
  if (o.sparseLayers === undefined) {
    const s = o.sparseStep ?? 2;
    if (!(Number.isInteger(s) && s >= 1)) throw new PolyglotError(`--sparse-step: expected a positive integer, found ${s}`);
    return { encoder: s, decoder: s };
  }
  const enc: number[] = [];
  const dec: number[] = [];
  for (const item of o.sparseLayers.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean)) {
    const m = /^(?:(encoder|decoder)\.)?(\d+)$/.exec(item);
    if (!m) throw new PolyglotError(`--sparse-layers: expected entries like 3, encoder.3 or decoder.1, found ${JSON.stringify(item)}`);
    const i = Number(m[2]);
    for (const side of m[1] ? [m[1]] : ['encoder', 'decoder']) {
      const n = side === 'encoder' ? c.encoderLayers : c.decoderLayers;
      if (i >= n) throw new PolyglotError(`--sparse-layers: ${side} layer ${i} does not exist (the model has ${n})`);
      const list = side === 'encoder' ? enc : dec;
      if (!list.includes(i)) list.push(i);
    }
  }
  if (enc.length + dec.length === 0) throw new PolyglotError('--sparse-layers: expected at least one layer');
  return { encoder: stepFor('encoder', c.encoderLayers, enc), decoder: stepFor('decoder', c.decoderLayers, dec) };
}

function checkOptions(o: UpcycleOptions): void {
  if (!(Number.isInteger(o.experts) && o.experts >= 2)) throw new PolyglotError(`--experts: expected an integer >= 2 (top-2 routing), found ${o.experts}`);
  if (o.capacity !== undefined && o.capacity !== null && !(Number.isInteger(o.capacity) && o.capacity >= 1)) {
    throw new PolyglotError(`--capacity: expected a positive integer or "auto", found ${o.capacity}`);
  }
  for (const [k, v] of [['--expert-noise', o.expertNoise], ['--router-std', o.routerStd]] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0)) throw new PolyglotError(`${k}: expected a non-negative number, found ${v}`);
  }
  if (o.moeTokenDropout !== undefined && !(o.moeTokenDropout >= 0 && o.moeTokenDropout < 1)) {
    throw new PolyglotError(`--moe-token-dropout: expected a probability in [0, 1), found ${o.moeTokenDropout}`);
  }
}

/** Writes the upcycled NLLB-MoE checkpoint of `src` into `outDir`. */
export function upcycleToNllbMoe(src: DenseSource, outDir: string, o: UpcycleOptions): UpcycleResult {
  checkOptions(o);
  const c = src.config;
  const where = src.ck.dir;
  const steps = upcycleSteps(c, o);
  const sparse = { encoder: layersOf(c.encoderLayers, steps.encoder), decoder: layersOf(c.decoderLayers, steps.decoder) };
  for (const side of ['encoder', 'decoder'] as const) {
    const srcStep = side === 'encoder' ? c.encoderSparseStep : c.decoderSparseStep;
    const n = side === 'encoder' ? c.encoderLayers : c.decoderLayers;
    const already = layersOf(n, srcStep);
    if (already.length && c.numExperts !== o.experts) {
      throw new PolyglotError(`${where}/config.json: field "num_experts": the source already has ${c.numExperts} experts in ${side} layers [${already}], found --experts ${o.experts}`);
    }
    const lost = already.filter((i) => !sparse[side].includes(i));
    if (lost.length) throw new PolyglotError(`${where}: ${side} layers [${lost}] are sparse in the source and would not be in the result; choose a sparse step that keeps them`);
  }

  const tensors = src.ck.tensors;
  const ignored = src.isIgnored ?? (() => false);
  const names = tensors.names().filter((n) => !ignored(n));
  const has = (n: string) => names.includes(n);
  // tied aliases (torch .bin keeps them): store the embedding once as model.shared.weight, as
  // save_pretrained does; lm_head.weight only when the head is untied
  const sharedFrom = has(SHARED) ? SHARED : [...EMBED_ALIASES, ...(c.tieWordEmbeddings ? ['lm_head.weight'] : [])].find(has);
  if (!sharedFrom) throw new PolyglotError(`${where}: no tensor "${SHARED}" (nor its tied aliases)`);
  const skip = new Set([...EMBED_ALIASES, ...(c.tieWordEmbeddings ? ['lm_head.weight'] : [])]);
  if (!c.tieWordEmbeddings && !has('lm_head.weight')) throw new PolyglotError(`${where}: tie_word_embeddings is false but there is no tensor "lm_head.weight"`);

  const rng = new Rng(o.seed ?? 0);
  const noise = o.expertNoise ?? 0;
  const routerStd = o.routerStd ?? c.initStd;
  const read = (name: string) => {
    const h = tensors.read(name);
    if (!(h.data instanceof Float32Array)) throw new PolyglotError(`${where}: tensor "${name}": expected a floating-point tensor, found dtype ${h.dtype}`);
    return { shape: h.shape, data: h.data };
  };
  const sparseFfn = /^model\.(encoder|decoder)\.layers\.(\d+)\.ffn\.(fc[12]\.(?:weight|bias))$/;
  const out: HfTensorToWrite[] = [];
  const routersDone = new Set<string>();
  let parameters = 0;
  let sourceParameters = 0;
  const push = (t: HfTensorToWrite) => {
    parameters += t.shape.reduce((a, b) => a * b, 1);
    out.push(t);
  };
  for (const name of names) {
    if (skip.has(name) && name !== sharedFrom) continue;
    const meta = tensors.meta(name);
    sourceParameters += meta.shape.reduce((a, b) => a * b, 1);
    const target = name === sharedFrom ? SHARED : src.toNllbMoeName(name);
    const m = sparseFfn.exec(target);
    if (!m || !sparse[m[1] as 'encoder' | 'decoder'].includes(Number(m[2]))) {
      push({ name: target, shape: meta.shape, data: () => read(name).data });
      continue;
    }
    const prefix = `model.${m[1]}.layers.${m[2]}.ffn`;
    for (let e = 0; e < o.experts; e++) {
      // each expert's noise has its own seed, drawn in a fixed order, so the output is one function of --seed
      const seed = rng.nextUint32();
      push({
        name: `${prefix}.experts.expert_${e}.${m[3]}`,
        shape: meta.shape,
        data: () => {
          const d = read(name).data;
          if (noise > 0) {
            const r = new Rng(seed);
            for (let k = 0; k < d.length; k++) d[k] += noise * r.normal();
          }
          return d;
        },
      });
    }
    if (!routersDone.has(prefix)) {
      routersDone.add(prefix);
      const seed = rng.nextUint32();
      push({
        name: `${prefix}.router.classifier.weight`,
        shape: [o.experts, c.dModel],
        data: () => {
          const r = new Rng(seed);
          return Float32Array.from({ length: o.experts * c.dModel }, () => routerStd * r.normal());
        },
      });
    }
  }
  for (const side of ['encoder', 'decoder'] as const) {
    for (const i of sparse[side]) {
      if (!routersDone.has(`model.${side}.layers.${i}.ffn`) && !has(`model.${side}.layers.${i}.ffn.router.classifier.weight`)) {
        throw new PolyglotError(`${where}: no dense FFN weights for ${side} layer ${i} (expected "model.${side}.layers.${i}.fc1.weight" or its NLLB-MoE spelling)`);
      }
    }
  }

  const config = upcycledConfig(src, o, steps);
  const extraFiles: HfExtraFile[] = [];
  for (const f of ['sentencepiece.bpe.model', 'vocab.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.json', 'generation_config.json']) {
    const p = path.join(src.ck.dir, f);
    if (fs.existsSync(p)) extraFiles.push({ name: f, sourcePath: p });
  }
  const written = writeHfModelDir(outDir, { config, tensors: out, extraFiles }, { dtype: o.dtype ?? 'float32', overwrite: o.overwrite ?? false });
  return { ...written, config, sparseLayers: sparse, parameters, sourceParameters };
}

/** The NLLB-MoE config.json of the result: the dense fields unchanged, the MoE fields set. */
function upcycledConfig(src: DenseSource, o: UpcycleOptions, steps: { encoder: number; decoder: number }): Record<string, unknown> {
  const source = src.ck.config;
  const isMoe = readsModelType(nllbMoeFormat, source.model_type);
  const keep = Object.fromEntries(Object.entries(source).filter(([k]) => !['architectures', 'model_type', 'torch_dtype', 'transformers_version', '_name_or_path'].includes(k)));
  const config: Record<string, unknown> = {
    ...(isMoe ? {} : MOE_DEFAULTS),
    ...keep,
    model_type: nllbMoeFormat.modelType,
    architectures: ['NllbMoeForConditionalGeneration'],
    num_experts: o.experts,
    encoder_sparse_step: steps.encoder,
    decoder_sparse_step: steps.decoder,
    moe_token_dropout: o.moeTokenDropout ?? 0,
  };
  if (o.capacity !== undefined) config.expert_capacity = o.capacity;
  // what transformers' NllbMoeConfig would parse; our parser checks every field the same way
  parseNllbMoeConfig(config, `${src.ck.dir}/config.json (upcycled)`);
  return config;
}
