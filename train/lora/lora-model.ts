/**
 * A model with LoRA adapters on some of its Linear layers (peft's LoraModel): the base stays as
 * it is (its variables are never copied), each target Linear gets a LoraAdapter (layers/lora.ts)
 * whose output its forward adds. Attaching changes every forward of the base model (generation,
 * evaluation, verify) until `detach()` or `merge()`.
 *
 * As a TrainableModel it lists the base parameters followed by the adapters' (`<module>.lora_A.weight`,
 * `<module>.lora_B.weight`); `trainedPredicate()` (the trainer's selectTrainable asks it) selects the adapters (plus `--train-only` matches).
 */
import { PolyglotError } from '../../core/errors.js';
import { Rng } from '../../core/random.js';
import { LoraAdapter } from '../../layers/lora.js';
import { tf } from '../../core/tf.js';
import { Linear, linearOfKernel } from '../../layers/linear.js';
import { globMatcher, type FreezeOptions } from '../freeze.js';
import type { ComputeLossOptions, LossOutput, NamedParameter, TrainableModel } from '../../core/trainable.js';
import { selectTargets, type PeftTargetModules } from './targets.js';

export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: PeftTargetModules;
  /** peft use_rslora: scaling alpha / sqrt(r) instead of alpha / r. */
  useRslora?: boolean;
}

export function checkLoraSettings(s: LoraSettings, where: string): void {
  if (!(Number.isInteger(s.r) && s.r >= 1)) throw new PolyglotError(`${where}: r: expected an integer >= 1, found ${s.r}`);
  if (!(typeof s.alpha === 'number' && Number.isFinite(s.alpha))) throw new PolyglotError(`${where}: lora_alpha: expected a number, found ${s.alpha}`);
  if (!(s.dropout >= 0 && s.dropout < 1)) throw new PolyglotError(`${where}: lora_dropout: expected a probability in [0, 1), found ${s.dropout}`);
}

/** Our parameter name -> the state-dict name HF writes (a format's `weights.hfName`; identity when the names agree). */
export type HfNaming = (name: string) => string;

const sameName: HfNaming = (name) => name;

/**
 * The Linear modules of a model by HF module path (the name HF gives `<module>.weight`, without
 * `.weight`): peft matches target_modules against, and names adapter keys by, the HF model's modules
 * (an m2m_100 checkpoint's `encoder_attn.q_proj` is our `cross_attention.q_proj`).
 */
export function linearModules(model: Pick<TrainableModel, 'namedParameters'>, hfName: HfNaming = sameName): Map<string, Linear> {
  const out = new Map<string, Linear>();
  for (const p of model.namedParameters()) {
    const lin = p.name.endsWith('.weight') ? linearOfKernel.get(p.variable) : undefined;
    if (lin && lin.kernel === p.variable) out.set(hfName(p.name).slice(0, -'.weight'.length), lin);
  }
  // An int8 or 16-bit Linear has no float32 kernel among the parameters (layers/linear.ts): found by walking the model.
  for (const lin of frozenLinears(model)) out.set(hfName(lin.weightName).slice(0, -'.weight'.length), lin);
  return out;
}

/** The Linear layers reachable from `root` whose weight is int8 or 16-bit in native memory. */
function frozenLinears(root: object): Linear[] {
  const seen = new Set<object>();
  const found: Linear[] = [];
  const visit = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 16) return;
    seen.add(v);
    if (v instanceof Linear) {
      if (v.frozenWeight !== undefined) found.push(v);
      return;
    }
    if (v instanceof tf.Tensor || v instanceof tf.LayerVariable || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return;
    for (const child of Array.isArray(v) ? v : Object.values(v)) visit(child, depth + 1);
  };
  visit(root, 0);
  return found;
}

export interface LoraModelOptions {
  /** Names the settings in errors (default --lora-targets). */
  where?: string;
  /** How HF names the base model's parameters (default: as we do). */
  hfName?: HfNaming;
}

export class LoraModel<M extends TrainableModel = TrainableModel> implements TrainableModel {
  readonly adapters = new Map<string, { adapter: LoraAdapter; linear: Linear }>();
  readonly scaling: number;
  /** Checkpoints hold the adapters (and --train-only parameters); the base is reloaded from its folder. */
  readonly frozenBase = true;
  private attached = true;

  /** How HF names the base model's parameters (adapter modules are named the HF way). */
  readonly hfName: HfNaming;

  /** Adds fresh adapters (peft init, A drawn from `seed`) to the target modules of `base`. */
  constructor(
    readonly base: M,
    readonly settings: LoraSettings,
    seed: number,
    o: LoraModelOptions = {},
  ) {
    const where = o.where ?? '--lora-targets';
    this.hfName = o.hfName ?? sameName;
    checkLoraSettings(settings, where);
    this.scaling = settings.useRslora ? settings.alpha / Math.sqrt(settings.r) : settings.alpha / settings.r;
    const linears = linearModules(base, this.hfName);
    const chosen = selectTargets(settings.targetModules, [...linears.keys()], where);
    const rng = new Rng(seed);
    for (const [index, module] of chosen.entries()) {
      const linear = linears.get(module)!;
      if (linear.adapter) throw new PolyglotError(`${where}: ${module} already has an adapter`);
      const adapter = new LoraAdapter({ module, inFeatures: linear.cfg.inFeatures, outFeatures: linear.cfg.outFeatures, r: settings.r, scaling: this.scaling, dropout: settings.dropout, index });
      adapter.initPeft(rng);
      linear.adapter = adapter;
      this.adapters.set(module, { adapter, linear });
    }
  }

  adapterParameters(): NamedParameter[] {
    return [...this.adapters.values()].flatMap(({ adapter }) => adapter.hfParameters());
  }

  /** true for `<target module>.lora_A.weight` / `.lora_B.weight`. */
  isAdapterParameter(name: string): boolean {
    const m = /^(.*)\.lora_[AB]\.weight$/.exec(name);
    return !!m && this.adapters.has(m[1]);
  }

  namedParameters(): NamedParameter[] {
    return [...this.base.namedParameters(), ...(this.attached ? this.adapterParameters() : [])];
  }

  /**
   * "Does this parameter train?": every adapter parameter, plus base parameters matching a
   * `--train-only` glob (peft modules_to_save); `--freeze` globs exclude either.
   */
  trainedPredicate(o: FreezeOptions): (name: string) => boolean {
    const adapterNames = new Set(this.adapterParameters().map((p) => p.name));
    const baseNames = this.base.namedParameters().map((p) => p.name);
    const only = (o.trainOnly ?? []).map((g) => [g, globMatcher(g, o.alias)] as const);
    const frozen = (o.freeze ?? []).map((g) => [g, globMatcher(g, o.alias)] as const);
    for (const [g, matches] of only) if (!baseNames.some(matches)) throw new PolyglotError(`--train-only "${g}": matches no parameter of the base model (names look like "${baseNames[0] ?? ''}")`);
    for (const [g, matches] of frozen) if (![...adapterNames, ...baseNames].some(matches)) throw new PolyglotError(`--freeze "${g}": matches no parameter`);
    const pred = (name: string) => (adapterNames.has(name) || only.some(([, matches]) => matches(name))) && !frozen.some(([, matches]) => matches(name));
    if (![...adapterNames].some(pred)) throw new PolyglotError('--freeze: no LoRA parameter is left to train');
    return pred;
  }

  computeLoss(batch: Parameters<TrainableModel['computeLoss']>[0], opts: ComputeLossOptions): LossOutput {
    // One seed per forward from the trainer's Rng (only when dropout is on, so p = 0 runs draw nothing extra).
    const seed = opts.training && this.settings.dropout > 0 && opts.rng ? opts.rng.nextSeed() : undefined;
    const context = { training: opts.training, seed };
    for (const { adapter } of this.adapters.values()) adapter.context = context;
    try {
      return this.base.computeLoss(batch, opts);
    } finally {
      for (const { adapter } of this.adapters.values()) adapter.context = { training: false };
    }
  }

  /** Removes the adapters from the base model and frees them. */
  detach(): void {
    if (!this.attached) return;
    for (const { adapter, linear } of this.adapters.values()) {
      if (linear.adapter === adapter) linear.adapter = undefined;
      adapter.disposeParameters();
    }
    this.attached = false;
  }

  /** Folds W + scaling * B A into each target Linear, then detaches: the base becomes the merged model. */
  merge(): M {
    for (const { adapter, linear } of this.adapters.values()) adapter.mergeInto(linear);
    this.detach();
    return this.base;
  }
}
