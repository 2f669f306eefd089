/**
 * HF XGLMPreTrainedModel._init_weights for a fresh model: Linear and Embedding weights
 * ~ N(0, init_std), biases 0, the padding row of the embedding 0, LayerNorm 1 / 0 (as
 * constructed). Seeded: the same seed gives the same weights.
 */
import { tf } from '../../core/tf.js';
import { Rng } from '../../core/random.js';
import type { XGLMForCausalLM } from './model.js';

export function initXGLMWeights(lm: XGLMForCausalLM, seed = 0): void {
  const rng = new Rng(seed);
  const std = lm.config.initStd;
  const embName = lm.model.embedTokens.weightName;
  for (const p of lm.namedParameters()) {
    const isMatrix = p.variable.shape.length === 2;
    if (!isMatrix) {
      // Biases and LayerNorm beta 0, LayerNorm gamma 1.
      const value = /layer_norm\.weight$/.test(p.name) ? tf.ones(p.variable.shape as number[]) : tf.zeros(p.variable.shape as number[]);
      p.variable.write(value);
      value.dispose();
      continue;
    }
    const value = tf.tidy(() => {
      const w = tf.randomNormal(p.variable.shape as number[], 0, std, 'float32', rng.nextSeed());
      if (p.name !== embName) return w;
      // nn.Embedding(padding_idx): the padding row starts at zero.
      const [vocab] = p.variable.shape as number[];
      const keep = tf.notEqual(tf.range(0, vocab, 1, 'int32'), tf.scalar(lm.config.padTokenId, 'int32'));
      return tf.mul(w, tf.expandDims(tf.cast(keep, 'float32'), 1));
    });
    p.variable.write(value);
    value.dispose();
  }
}
