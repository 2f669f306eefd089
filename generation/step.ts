/** One decoding step: host ids -> session.step -> host scores, leaving no tensor behind. */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { DecoderSession } from '../core/decoder-session.js';

export interface StepScores {
  /** [rows * vocab], row-major; a private copy the caller may modify. */
  scores: Float32Array;
  vocab: number;
}

export async function runStep(session: DecoderSession, feed: readonly (readonly number[])[]): Promise<StepScores> {
  const rows = feed.length;
  const t = feed[0].length;
  const flat = new Int32Array(rows * t);
  feed.forEach((r, i) => flat.set(r, i * t));
  const ids = tf.tensor2d(flat, [rows, t], 'int32');
  let logits: tf.Tensor2D;
  try {
    logits = session.step(ids);
  } finally {
    ids.dispose();
  }
  try {
    if (logits.rank !== 2 || logits.shape[0] !== rows) {
      throw new PolyglotError(`generate: DecoderSession.step must return logits [${rows}, vocab], found [${logits.shape.join(', ')}]`);
    }
    const vocab = logits.shape[1];
    let data: Float32Array;
    if (logits.dtype === 'float32') {
      data = (await logits.data()) as Float32Array;
    } else {
      const f = logits.cast('float32');
      data = (await f.data()) as Float32Array;
      f.dispose();
    }
    // copy: processors write in place and the backend may hand out its own buffer
    return { scores: new Float32Array(data), vocab };
  } finally {
    logits.dispose();
  }
}
