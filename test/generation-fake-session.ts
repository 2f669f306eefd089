/** A fake DecoderSession for generation tests: logits are a pure function of each row's history. */
import { tf } from '../core/tf.js';
import type { DecoderSession } from '../core/decoder-session.js';

export type LogitsFn = (history: readonly number[]) => Float32Array;

export class FakeSession implements DecoderSession {
  histories: number[][];
  /** Every step's fed rows, for assertions about what generate feeds. */
  readonly fed: number[][][] = [];
  reorders: Int32Array[] = [];
  disposed = false;

  constructor(
    readonly fn: LogitsFn,
    rows: number,
    readonly vocab: number,
  ) {
    this.histories = Array.from({ length: rows }, () => []);
  }

  get batchSize(): number {
    return this.histories.length;
  }

  step(tokens: tf.Tensor2D): tf.Tensor2D {
    const [b, t] = tokens.shape;
    if (b !== this.histories.length) throw new Error(`fake session: fed ${b} rows, holds ${this.histories.length}`);
    const ids = tokens.arraySync() as number[][];
    this.fed.push(ids);
    const out = new Float32Array(b * this.vocab);
    for (let r = 0; r < b; r++) {
      for (let j = 0; j < t; j++) this.histories[r].push(ids[r][j]);
      out.set(this.fn(this.histories[r]), r * this.vocab);
    }
    return tf.tensor2d(out, [b, this.vocab]);
  }

  reorder(idx: Int32Array): void {
    this.reorders.push(Int32Array.from(idx));
    this.histories = Array.from(idx, (i) => [...this.histories[i]]);
  }

  dispose(): void {
    this.disposed = true;
  }
}

/** Logits from a table indexed by the last token (a bigram model). */
export function bigram(table: number[][]): LogitsFn {
  return (h) => Float32Array.from(table[h[h.length - 1]]);
}

/** Pseudo-random logits that depend on the whole history (FNV hash -> xorshift normals). */
export function hashedLogits(vocab: number, scale = 2, salt = 0): LogitsFn {
  return (h) => {
    let x = 2166136261 ^ salt;
    for (const t of h) x = Math.imul(x ^ (t + 1), 16777619) >>> 0;
    const out = new Float32Array(vocab);
    for (let i = 0; i < vocab; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = ((x / 4294967296) * 2 - 1) * scale;
    }
    return out;
  };
}
