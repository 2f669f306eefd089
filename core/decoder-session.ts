/**
 * The contract between a model and the generation loop (docs/ARCHITECTURE.md, "Generation").
 * A session is the state of one generate call: the key/value cache, the attention mask that grows
 * with every fed column, and (encoder-decoder) the encoder output computed once at creation.
 */
import type { tf } from './tf.js';

export interface DecoderSession {
  /** Current number of rows (changes when `reorder` expands batch -> batch * beams). */
  readonly batchSize: number;
  /**
   * Feeds new tokens [B, t] (int32) for every row and returns the logits of the token that
   * follows the last fed column, [B, V] (float32; the caller disposes it).
   * The first call feeds the whole prompt (decoder-only: the left-padded prompt whose attention
   * mask the session was created with; encoder-decoder: the decoder start tokens); later calls
   * feed one column, which always counts as real (attention mask 1), as in HF generate.
   */
  step(tokens: tf.Tensor2D): tf.Tensor2D;
  /**
   * Row i of every cached tensor (and of the attention mask / encoder output) becomes old row
   * `beamIndices[i]`. The length may differ from `batchSize`: generate expands batch -> batch * k
   * with [0,0,..,1,1,..] before the first `step` (HF `_expand_inputs_for_generation`).
   */
  reorder(beamIndices: Int32Array): void;
  dispose(): void;
}
