/**
 * Held-out evaluation: token-weighted mean loss over batches (each batch's `lm_loss` --
 * or `loss` when the model reports no parts -- weighted by its target count, so the mean
 * is per target token as HF's eval loss over one big batch would be), perplexity = exp(loss),
 * plus the token-weighted mean of every other reported component (MoE aux / z losses, metrics).
 */
import { tf } from '../core/tf.js';
import type { HostBatch } from './batch.js';
import { batchTensors } from './batch.js';
import type { TrainableModel } from '../core/trainable.js';

export interface EvalResult {
  loss: number;
  perplexity: number;
  [metric: string]: number;
}

export function evaluateLoss(model: TrainableModel, batches: Iterable<HostBatch>): EvalResult | undefined {
  let sum = 0;
  let weight = 0;
  const compSums: Record<string, number> = {};
  for (const b of batches) {
    const inputs = batchTensors(b);
    const { loss, comps } = tf.tidy(() => {
      const out = model.computeLoss(inputs, { training: false });
      const lm = out.components.lm_loss ?? out.loss;
      return { loss: tf.keep(lm), comps: Object.fromEntries(Object.entries(out.components).map(([k, v]) => [k, tf.keep(v)])) };
    });
    const w = Math.max(1, b.targets);
    sum += loss.dataSync()[0] * w;
    weight += w;
    for (const [k, v] of Object.entries(comps)) if (k !== 'lm_loss') compSums[k] = (compSums[k] ?? 0) + v.dataSync()[0] * w;
    tf.dispose([...new Set([loss, ...Object.values(comps), ...Object.values(inputs)])]);
  }
  if (weight === 0) return undefined;
  const loss = sum / weight;
  const res: EvalResult = { loss, perplexity: Math.exp(loss) };
  for (const [k, v] of Object.entries(compSums)) res[k] = v / weight;
  return res;
}
