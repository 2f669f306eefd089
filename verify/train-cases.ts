/**
 * `grad` and `adamw_step` fixture handlers, shared by both model families. The model
 * contributors register them in their runner's prepare():
 *
 *   grad: gradCase((params) => loadFreshModel(fixtureDir, params)),
 *   adamw_step: adamwStepCase((params) => loadFreshModel(fixtureDir, params)),
 *
 * where the loader builds a fresh model from the fixture files with
 * `params.config_overrides` applied and honours the toolkit options in `params`
 * (NLLB-MoE: `moe_loss` -- 'hf' when absent, `training_expert_capacity`).
 */
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import { PolyglotError } from '../core/errors.js';
import type { HostTensor } from '../convert/safetensors.js';
import type { ActualOutput, CaseContext, CaseHandler } from './types.js';
import { distinctParameters, type TrainableModel, type TrainParam } from '../core/trainable.js';
import { AdamW } from '../train/adamw.js';

export type CaseModel = TrainableModel & { dispose?: () => void };
/** Builds a fresh model for one case from the fixture, with the case's params applied. */
export type CaseModelLoader = (params: Record<string, unknown>) => Promise<CaseModel> | CaseModel;
/** Our parameter name -> the name the fixture's `grad/` and `param/` keys use (the checkpoint format's `weights.hfName`). */
export type HfNaming = (name: string) => string;

/** The model's distinct parameters under the fixture's (HF) names. */
function hfNamedParameters(model: CaseModel, hfName: HfNaming): TrainParam[] {
  return distinctParameters(model).map((p) => ({ ...p, name: hfName(p.name) }));
}

/** A fixture tensor as a tfjs tensor: integers (int64 ids, masks, labels) -> int32, floats -> float32. */
export function hostToTensor(h: HostTensor): tf.Tensor {
  if (h.data instanceof Float32Array) return tf.tensor(h.data, h.shape, 'float32');
  const ints = h.data instanceof Int32Array ? h.data : Int32Array.from(h.data as ArrayLike<number | bigint>, (x) => Number(x));
  return tf.tensor(ints, h.shape, 'int32');
}

function toActual(t: tf.Tensor): ActualOutput {
  return { data: t.dataSync().slice(), shape: t.shape.slice() };
}

/** The case's tensor inputs (everything in `inputs` that names a tensor and is not a gradient). */
function batchFromCase(ctx: CaseContext): Record<string, tf.Tensor> {
  const batch: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(ctx.spec.inputs)) {
    if (typeof v !== 'string' || k.startsWith('grad/')) continue;
    batch[k] = hostToTensor(ctx.input(k));
  }
  return batch;
}

function caseParams(ctx: CaseContext): Record<string, unknown> {
  return { ...(ctx.spec.params ?? {}) };
}

/** Gradient of a parameter in HF layout ([out, in] for Linear weights). */
function hfLayout(p: TrainParam, t: tf.Tensor): tf.Tensor {
  return p.transposed ? tf.transpose(t) : t.clone();
}

function paramByName(params: TrainParam[], name: string, caseName: string): TrainParam {
  const p = params.find((q) => q.name === name);
  if (!p) {
    throw new PolyglotError(
      `case "${caseName}": expects parameter "${name}", which the model does not have (it has e.g. ${params.slice(0, 3).map((q) => `"${q.name}"`).join(', ')})`,
    );
  }
  return p;
}

/**
 * Loss and gradients of a fresh model in training mode (dropouts 0 come from
 * params.config_overrides), with tf.variableGrads over every parameter; gradients are
 * reported in HF layout under `grad/<hf name>`.
 */
export function gradCase(load: CaseModelLoader, hfName: HfNaming = (n) => n): CaseHandler {
  return async (ctx) => {
    const model = await load(caseParams(ctx));
    const batch = batchFromCase(ctx);
    try {
      const params = hfNamedParameters(model, hfName);
      const wanted = Object.keys(ctx.spec.expect)
        .filter((k) => k.startsWith('grad/'))
        .map((k) => paramByName(params, k.slice(5), ctx.spec.name));
      const { value, grads } = tf.variableGrads(
        () => model.computeLoss(batch, { training: true, rng: new Rng(0) }).loss,
        params.map((p) => p.variable),
      );
      const out: Record<string, ActualOutput> = { loss: toActual(value) };
      for (const p of wanted) {
        const g = grads[p.variable.name];
        const hf = g ? hfLayout(p, g) : tf.zeros(p.transposed ? [...p.variable.shape].reverse() : p.variable.shape);
        out[`grad/${p.name}`] = toActual(hf);
        hf.dispose();
      }
      value.dispose();
      tf.dispose(Object.values(grads));
      return out;
    } finally {
      tf.dispose(Object.values(batch));
      model.dispose?.();
    }
  };
}

/**
 * One torch.optim.AdamW step (fresh state) from the gradients the case gives
 * (inputs `grad/<hf name>`, HF layout), params lr / betas / eps / weight_decay; reports
 * `param/<hf name>` in HF layout. AdamW is elementwise, so only listed parameters move.
 */
export function adamwStepCase(load: CaseModelLoader, hfName: HfNaming = (n) => n): CaseHandler {
  return async (ctx) => {
    const model = await load(caseParams(ctx));
    try {
      return runAdamwStep(ctx, hfNamedParameters(model, hfName));
    } finally {
      model.dispose?.();
    }
  };
}

/** The optimizer part of adamw_step on given parameters (also used without a model, from raw checkpoint tensors). */
export function runAdamwStep(ctx: CaseContext, params: TrainParam[]): Record<string, ActualOutput> {
  const spec = ctx.spec;
  const betas = ctx.literal<[number, number]>('betas') ?? [0.9, 0.999];
  if (ctx.literal<boolean>('amsgrad') || ctx.literal<boolean>('maximize')) {
    throw new PolyglotError(`case "${spec.name}": amsgrad / maximize AdamW variants are not implemented`);
  }
  const lr = ctx.literal<number>('lr');
  if (typeof lr !== 'number') throw new PolyglotError(`case "${spec.name}": params.lr: expected a number, found ${JSON.stringify(lr)}`);
  const grads = new Map<string, tf.Tensor>();
  const used: TrainParam[] = [];
  try {
    for (const k of Object.keys(spec.inputs)) {
      if (!k.startsWith('grad/')) continue;
      const p = paramByName(params, k.slice(5), spec.name);
      const g = tf.tidy(() => {
        const hf = hostToTensor(ctx.input(k));
        return p.transposed ? tf.transpose(hf) : hf;
      });
      grads.set(p.name, g);
      used.push(p);
    }
    const opt = new AdamW(used, {
      lr,
      betas,
      eps: ctx.literal<number>('eps') ?? 1e-8,
      weightDecay: ctx.literal<number>('weight_decay') ?? 0.01,
    });
    opt.step(grads);
    opt.dispose();
    const out: Record<string, ActualOutput> = {};
    for (const k of Object.keys(spec.expect)) {
      if (!k.startsWith('param/')) continue;
      const p = paramByName(params, k.slice(6), spec.name);
      const hf = hfLayout(p, p.variable);
      out[k] = toActual(hf);
      hf.dispose();
    }
    return out;
  } finally {
    tf.dispose([...grads.values()]);
  }
}
