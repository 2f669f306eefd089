/**
 * AdamW with torch.optim.AdamW's exact single-tensor math (amsgrad=False, maximize=False):
 *
 *   p   *= 1 - lr * weight_decay                 (decoupled decay, before the Adam step)
 *   m    = m + (g - m) * (1 - beta1)              (torch: exp_avg.lerp_(grad, 1 - beta1))
 *   v    = v * beta2 + (1 - beta2) * g * g        (exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2))
 *   p   -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * Moments are tf.Variables created lazily on a parameter's first update (torch's fresh
 * state is zeros); every update runs inside tf.tidy so no intermediate survives a step.
 * As in torch, the step count t is per parameter: a parameter without a gradient in a step
 * (an MoE expert that received no token) is skipped and its t does not advance.
 */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { TrainParam } from '../core/trainable.js';
import type { AdamWState } from '../checkpoints/training-checkpoint.js';
import { nativeAdamWUpdate } from '../backend/native-adamw.js';

export type { AdamWState };

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /**
   * Parameter names that get no weight decay. `hfNoDecay` gives the HF Trainer default
   * (biases and LayerNorm weights); torch.optim.AdamW itself decays everything.
   */
  noDecay?: (name: string) => boolean;
}

/**
 * HF Trainer's `get_decay_parameter_names`: parameters inside LayerNorm modules and any
 * name containing "bias" are not decayed. By HF name: `*.bias`, `*layer_norm*`,
 * `*layernorm*`, `*rmsnorm*` (XGLM: self_attn_layer_norm, final_layer_norm, model.layer_norm;
 * NLLB-MoE: + cross_attention_layer_norm, ff_layer_norm, encoder/decoder.layer_norm).
 */
export function hfNoDecay(name: string): boolean {
  const n = name.toLowerCase();
  return n.includes('bias') || n.includes('layer_norm') || n.includes('layernorm') || n.includes('rmsnorm');
}

/** Serialisable optimizer state (for checkpoints). */
interface Slot {
  m: tf.Variable;
  v: tf.Variable;
  /** torch state['step'] of this parameter. */
  step: number;
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  lr: number;
  /** Number of step() calls (each parameter also keeps its own torch-style step count). */
  stepCount = 0;
  private readonly params: Map<string, TrainParam>;
  private readonly slots = new Map<string, Slot>();
  private readonly noDecay: (name: string) => boolean;

  constructor(params: TrainParam[], opts: AdamWOptions) {
    this.lr = opts.lr;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    this.noDecay = opts.noDecay ?? (() => false);
    for (const [k, b] of [['beta1', this.beta1], ['beta2', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new PolyglotError(`AdamW ${k}: expected a value in [0, 1), found ${b}`);
    }
    if (!(this.eps >= 0)) throw new PolyglotError(`AdamW eps: expected >= 0, found ${this.eps}`);
    this.params = new Map(params.map((p) => [p.name, p]));
  }

  /** Names of the parameters this optimizer updates. */
  names(): string[] {
    return [...this.params.keys()];
  }

  private slot(name: string, p: tf.Variable): Slot {
    let s = this.slots.get(name);
    if (!s) {
      // tf.variable(x) makes a new tensor sharing x's data: dispose the zeros it was made from.
      const z = tf.zeros(p.shape, 'float32');
      s = { m: tf.variable(z, false), v: tf.variable(z, false), step: 0 };
      z.dispose();
      this.slots.set(name, s);
    }
    return s;
  }

  /**
   * One optimizer step. `grads` maps parameter name -> gradient in the tfjs layout of the
   * variable. A parameter without a gradient is skipped entirely (torch skips params
   * whose .grad is None: no decay, no moment update). `lr` overrides this.lr (schedules).
   * `gradScale` multiplies every gradient first (global-norm clipping without a second
   * copy of all gradients, see train/clip.ts clipCoefficient).
   */
  step(grads: Map<string, tf.Tensor> | Record<string, tf.Tensor>, lr = this.lr, gradScale = 1): void {
    const entries = grads instanceof Map ? [...grads.entries()] : Object.entries(grads);
    this.stepCount += 1;
    for (const [name, graw] of entries) {
      const p = this.params.get(name);
      if (!p) throw new PolyglotError(`AdamW: gradient for "${name}", which is not an optimized parameter`);
      const pv = p.variable;
      if (graw.shape.length !== pv.shape.length || graw.shape.some((d, i) => d !== pv.shape[i])) {
        throw new PolyglotError(`AdamW: gradient of "${name}": expected shape [${pv.shape}], found [${graw.shape}]`);
      }
      const s = this.slot(name, pv);
      s.step += 1;
      const bc1 = 1 - Math.pow(this.beta1, s.step);
      const bc2Sqrt = Math.sqrt(1 - Math.pow(this.beta2, s.step));
      const stepSize = lr / bc1;
      const wd = this.noDecay(name) ? 0 : this.weightDecay;
      tf.tidy(() => {
        // The same float32 operations as below in one native pass (backend/native-adamw.ts).
        const scalars = { gradScale, decay: wd !== 0 ? 1 - lr * wd : 1, oneMinusBeta1: 1 - this.beta1, beta2: this.beta2, oneMinusBeta2: 1 - this.beta2, bc2Sqrt, eps: this.eps, stepSize };
        if (nativeAdamWUpdate(pv, graw, s.m, s.v, scalars)) return;
        const g = gradScale === 1 ? graw : tf.mul(graw, tf.scalar(gradScale));
        const decayed = wd !== 0 ? tf.mul(pv, tf.scalar(1 - lr * wd)) : pv;
        const m = tf.add(s.m, tf.mul(tf.sub(g, s.m), tf.scalar(1 - this.beta1)));
        const v = tf.add(tf.mul(s.v, tf.scalar(this.beta2)), tf.mul(tf.mul(g, g), tf.scalar(1 - this.beta2)));
        const denom = tf.add(tf.div(tf.sqrt(v), tf.scalar(bc2Sqrt)), tf.scalar(this.eps));
        const next = tf.sub(decayed, tf.mul(tf.div(m, denom), tf.scalar(stepSize)));
        s.m.assign(m);
        s.v.assign(v);
        pv.assign(next);
      });
    }
  }

  /** Copies the state to host memory (checkpointing). */
  async state(): Promise<AdamWState> {
    const moments: AdamWState['moments'] = {};
    for (const [name, s] of this.slots) {
      moments[name] = {
        m: (await s.m.data()) as Float32Array,
        v: (await s.v.data()) as Float32Array,
        shape: s.m.shape,
        step: s.step,
      };
    }
    return { step: this.stepCount, moments };
  }

  /** Restores a state saved by `state()` (names must be parameters of this optimizer). */
  loadState(st: AdamWState): void {
    this.disposeSlots();
    this.stepCount = st.step;
    for (const [name, mo] of Object.entries(st.moments)) {
      const p = this.params.get(name);
      if (!p) throw new PolyglotError(`optimizer state: moments for "${name}", which is not an optimized parameter`);
      if (mo.shape.length !== p.variable.shape.length || mo.shape.some((d, i) => d !== p.variable.shape[i])) {
        throw new PolyglotError(`optimizer state: "${name}" expected shape [${p.variable.shape}], found [${mo.shape}]`);
      }
      const m = tf.tensor(mo.m, mo.shape, 'float32');
      const v = tf.tensor(mo.v, mo.shape, 'float32');
      this.slots.set(name, { m: tf.variable(m, false), v: tf.variable(v, false), step: mo.step ?? st.step });
      // tf.variable copies its initial value's data id; the source tensors can go.
      m.dispose();
      v.dispose();
    }
  }

  private disposeSlots(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }

  dispose(): void {
    this.disposeSlots();
  }
}
