/**
 * The contract between models and training (docs/ARCHITECTURE.md, "Training").
 * Models (XGLM, NLLB-MoE) implement it; the optimizer, trainer, checkpoints, verify's
 * grad / adamw_step handlers and the HF exporter only use this.
 */
import type { tf } from './tf.js';
import type { Rng } from './random.js';
import type { GradientCheckpointing } from './gradient-checkpointing.js';

export interface NamedParameter {
  /** Hugging Face state-dict name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  variable: tf.LayerVariable;
  /** true when stored as [in, out] (HF keeps Linear weights as [out, in]). */
  transposed: boolean;
}

export interface LossOutput {
  loss: tf.Scalar;
  /** Named scalar parts (lm_loss, aux/z losses, ...) and metrics; logged by the trainer. */
  components: Record<string, tf.Scalar>;
  /** Host-side count vectors (e.g. MoE expert usage per sparse layer); summed over a step's micro-batches and logged. */
  histograms?: Record<string, number[]>;
}

/** What the trainer passes to computeLoss. */
export interface ComputeLossOptions {
  training: boolean;
  rng?: Rng;
  /**
   * torch CrossEntropyLoss(label_smoothing=eps) for the LM loss (losses/cross-entropy.ts
   * `labelSmoothing`); every model applies it to its LM loss.
   */
  labelSmoothing?: number;
  /** Set by the trainer with --gradient-checkpointing: models recompute their blocks in backward. */
  gradientCheckpointing?: GradientCheckpointing;
  /** The variables being trained (set by the trainer): a frozen output table gets no gradient computed. */
  trained?: GradientCheckpointing['trained'];
  /** Tied-head loss in chunks of this many tokens (default: chunks only when [tokens, vocab] exceeds 64 MB). */
  logitsChunkRows?: number;
}

export interface TrainableModel {
  namedParameters(): NamedParameter[];
  /** Scalar loss for a batch; called inside tf.tidy / tf.variableGrads. */
  computeLoss(batch: Record<string, tf.Tensor>, opts: ComputeLossOptions): LossOutput;
  /**
   * Models that train only part of themselves by construction (LoRA: the adapters on a frozen
   * base) say which parameters train, given the --train-only / --freeze globs.
   */
  trainedPredicate?(globs: { trainOnly?: string[]; freeze?: string[]; alias?: (name: string) => string | undefined }): (name: string) => boolean;
  /** true: checkpoints hold only the trained parameters; the frozen rest comes from the model folder on resume. */
  readonly frozenBase?: boolean;
}

/** A parameter as the optimizer sees it: one tf.Variable, once (tied weights appear once). */
export interface TrainParam {
  name: string;
  variable: tf.Variable;
  transposed: boolean;
}

/**
 * The distinct parameters of a model. Tied weights (XGLM embed_tokens/lm_head, NLLB
 * shared/encoder/decoder embed_tokens/lm_head) are one torch Parameter, counted once by
 * `model.parameters()`; we keep the first name a model reports for a variable.
 */
export function distinctParameters(model: Pick<TrainableModel, 'namedParameters'>): TrainParam[] {
  const seen = new Set<tf.Variable>();
  const out: TrainParam[] = [];
  for (const p of model.namedParameters()) {
    const v = p.variable.read() as tf.Variable;
    if (seen.has(v)) continue;
    seen.add(v);
    out.push({ name: p.name, variable: v, transposed: p.transposed });
  }
  return out;
}

