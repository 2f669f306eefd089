/**
 * NLLB-MoE's training loss from one forward pass: lm_loss (torch CrossEntropyLoss, ignore -100,
 * optional label smoothing) plus the router losses of losses/moe-losses.ts ("standard": Switch
 * aux + z-loss over non-padding tokens; "hf": HF's total), and per sparse layer the metrics the
 * trainer logs: `moe/<side>.<layer>/dropped_token_fraction`, `.../dropped_assignment_fraction`,
 * `.../router_entropy`, `.../unused_experts`, and the histogram `.../expert_usage`.
 */
import { tf } from '../../core/tf.js';
import type { LossOutput } from '../../core/trainable.js';
import type { Ops } from '../../ops/ops.js';
import { eagerOps } from '../../ops/eager.js';
import type { RouterOutput } from '../../layers/moe/router.js';
import { crossEntropy } from '../../losses/cross-entropy.js';
import { moeLoss, type MoeLossMode, type RouterLossInput } from '../../losses/moe-losses.js';
import type { NllbMoeConfig } from './config.js';
import type { MoeLayerMetrics } from './metrics.js';

/** Mean cross-entropy over labels != -100 of logits [B, T, V] (torch CrossEntropyLoss(ignore_index=-100, label_smoothing)). */
export function lmCrossEntropy<T>(o: Ops<T>, logits: T, labels: T, labelSmoothing = 0): T {
  const shape = o.shape(logits);
  const n = o.dimMul(shape[0], shape[1]);
  return crossEntropy(o, o.reshape(logits, [n, shape[2]]), o.reshape(labels, [n]), { labelSmoothing });
}

export interface NllbMoeLossInput {
  /** input_ids, labels, attention_mask?, decoder_attention_mask? */
  batch: Record<string, tf.Tensor>;
  logits: tf.Tensor;
  encoderRouters: (RouterOutput<tf.Tensor> | undefined)[];
  decoderRouters: (RouterOutput<tf.Tensor> | undefined)[];
  moeMetrics: MoeLayerMetrics[];
  config: NllbMoeConfig;
  mode: MoeLossMode;
  outputRouterLogits: boolean;
  labelSmoothing: number;
}

/** Call inside tf.tidy / tf.variableGrads (returns scalars the caller owns). */
export function nllbMoeLoss(i: NllbMoeLossInput): LossOutput {
  const { batch, config } = i;
  const labels = batch.labels;
  const o = eagerOps;
  const lm = lmCrossEntropy(o, i.logits, labels, i.labelSmoothing);
  const layers = (rs: (RouterOutput<tf.Tensor> | undefined)[]): RouterLossInput<tf.Tensor>[] => rs.filter((r): r is RouterOutput<tf.Tensor> => r !== undefined);
  const encMask = batch.attention_mask ? tf.reshape(tf.cast(tf.equal(batch.attention_mask, 1), 'float32'), [-1]) : tf.ones([batch.input_ids.size]);
  const decMask = batch.decoder_attention_mask
    ? tf.reshape(tf.cast(tf.equal(batch.decoder_attention_mask, 1), 'float32'), [-1])
    : tf.reshape(tf.cast(tf.notEqual(labels, -100), 'float32'), [-1]);
  const res = moeLoss(o, i.mode, {
    lmLoss: lm,
    encoder: layers(i.encoderRouters),
    decoder: layers(i.decoderRouters),
    encoderTokenMask: encMask,
    decoderTokenMask: decMask,
    numExperts: config.numExperts,
    auxCoef: config.routerAuxLossCoef,
    zCoef: config.routerZLossCoef,
    outputRouterLogits: i.outputRouterLogits,
  });
  const components: Record<string, tf.Scalar> = {};
  const histograms: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(res.components)) components[k] = v as tf.Scalar;
  for (const m of i.moeMetrics) {
    const key = `moe/${m.side}.${m.layer}`;
    components[`${key}/dropped_token_fraction`] = tf.scalar(m.droppedTokenFraction);
    components[`${key}/dropped_assignment_fraction`] = tf.scalar(m.droppedAssignmentFraction);
    components[`${key}/router_entropy`] = tf.scalar(m.routerEntropy);
    // fairseq's unused_expert count: experts that received no surviving assignment in this batch
    components[`${key}/unused_experts`] = tf.scalar(m.expertUsage.filter((n) => n === 0).length);
    histograms[`${key}/expert_usage`] = Array.from(m.expertUsage);
  }
  return { loss: res.loss as tf.Scalar, components, histograms };
}
