/**
 * What a model needs to recompute its blocks in backward instead of keeping their activations
 * (`polyglot train --gradient-checkpointing`, layers/checkpoint.ts): the trained variables by HF
 * name, so each block differentiates only with respect to its own trained ones (a frozen base
 * gets no gradients computed).
 */
import type { tf } from './tf.js';

export interface GradientCheckpointing {
  trained: { name: string; variable: tf.Variable }[];
}
