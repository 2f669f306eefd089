/**
 * What the trainer consumes: batches as typed arrays (made into tensors per step and
 * disposed), from a source whose position can be saved and restored so a resumed run
 * sees exactly the batches an uninterrupted one would.
 */
import { tf } from '../core/tf.js';

export interface HostArray {
  data: Int32Array | Float32Array;
  shape: number[];
}

export interface HostBatch {
  /** Model inputs by name: input_ids, attention_mask, labels, decoder_input_ids, ... */
  arrays: Record<string, HostArray>;
  /** Tokens processed (non-padding inputs, encoder + decoder): the unit of tokens/s. */
  tokens: number;
  /** Target tokens (labels != -100): weights eval losses. */
  targets: number;
}

export interface BatchSource {
  /** The next training batch; sources cycle through epochs themselves (reshuffling per epoch). */
  next(): HostBatch;
  /** Completed passes over the data. */
  readonly epoch: number;
  /** Batches per epoch (for --epochs), when known. */
  readonly batchesPerEpoch?: number;
  /** JSON-serialisable position (epoch, index, shuffle RNG state). */
  state(): unknown;
  restore(state: unknown): void;
}

/** Int32 / float32 tensors for a batch (caller disposes, or calls inside tf.tidy). */
export function batchTensors(b: HostBatch): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, a] of Object.entries(b.arrays)) out[k] = tf.tensor(a.data, a.shape, a.data instanceof Int32Array ? 'int32' : 'float32');
  return out;
}
