/**
 * XGLM's DecoderSession for generate(): holds the key/value cache and the host-side attention
 * mask. Position ids as HF XGLMForCausalLM.prepare_inputs_for_generation: cumsum(mask) - 1 with
 * padded positions set to 1, the last `t` columns when a cache exists. Every later column counts
 * as real (mask 1), also for finished rows, as HF generate. Only the last position's logits are
 * computed; cache tensors are replaced (old ones disposed) each step, or, on the fused native
 * attention path, kept as buffers with spare rows that new keys/values are written into.
 */
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import type { KeyValue } from '../../layers/attention.js';
import type { DecoderSession } from '../../core/decoder-session.js';
import type { XGLMForCausalLM } from './model.js';

export class XGLMDecoderSession implements DecoderSession {
  private rows: number;
  /** [rows][length] of 0/1, the mask of everything fed so far plus (before the first step) the prompt's. */
  private mask: Int32Array[];
  private promptMask: Int32Array[] | undefined;
  private past: KeyValue<tf.Tensor>[] | undefined;
  private disposed = false;

  /** `attentionMask`: the prompt's mask, one row per sequence (undefined = no padding; batchSize is then required). */
  constructor(private readonly lm: XGLMForCausalLM, attentionMask?: readonly (readonly number[])[] | Int32Array[], batchSize?: number) {
    if (attentionMask) {
      this.promptMask = attentionMask.map((r) => Int32Array.from(r as ArrayLike<number>));
      this.rows = this.promptMask.length;
    } else {
      if (batchSize === undefined) throw new PolyglotError('XGLMDecoderSession: give the prompt attention mask or a batch size');
      this.rows = batchSize;
    }
    this.mask = Array.from({ length: this.rows }, () => new Int32Array(0));
  }

  get batchSize(): number {
    return this.rows;
  }

  /** Tokens fed so far (the cache length). */
  get length(): number {
    return this.mask[0]?.length ?? 0;
  }

  step(tokens: tf.Tensor2D): tf.Tensor2D {
    if (this.disposed) throw new PolyglotError('XGLMDecoderSession: used after dispose()');
    const [b, t] = tokens.shape;
    if (b !== this.rows) throw new PolyglotError(`XGLMDecoderSession.step: expected ${this.rows} rows, found ${b}`);
    let newCols: Int32Array[];
    if (this.promptMask) {
      if (this.promptMask[0].length !== t) {
        throw new PolyglotError(`XGLMDecoderSession.step: the prompt attention mask has ${this.promptMask[0].length} columns, the first step fed ${t} tokens`);
      }
      newCols = this.promptMask;
      this.promptMask = undefined;
    } else {
      newCols = Array.from({ length: b }, () => new Int32Array(t).fill(1));
    }
    const len = this.length + t;
    const maskData = new Int32Array(b * len);
    const posData = new Int32Array(b * t);
    for (let r = 0; r < b; r++) {
      const row = new Int32Array(len);
      row.set(this.mask[r]);
      row.set(newCols[r], this.mask[r].length);
      this.mask[r] = row;
      maskData.set(row, r * len);
      let cum = 0;
      for (let j = 0; j < len; j++) {
        cum += row[j];
        if (j >= len - t) posData[r * t + j - (len - t)] = row[j] === 0 ? 1 : cum - 1;
      }
    }
    const maskT = tf.tensor2d(maskData, [b, len], 'int32');
    const posT = tf.tensor2d(posData, [b, t], 'int32');
    const out = this.lm.forward({ inputIds: tokens, attentionMask: maskT, positionIds: posT, pastKeyValues: this.past, lastPositionOnly: true });
    maskT.dispose();
    posT.dispose();
    out.lastHiddenState.dispose();
    // The session owns its cache: marking it (`length`) lets the fused attention append in place,
    // so the new cache may hold the old tensors; dispose only those it dropped.
    const next = out.presentKeyValues.map((kv) => ({ key: kv.key, value: kv.value, length: kv.length ?? kv.key.shape[2]! }));
    this.disposeCache(new Set(next.flatMap((kv) => [kv.key, kv.value])));
    this.past = next;
    const logits = tf.reshape(out.logits, [b, -1]) as tf.Tensor2D;
    out.logits.dispose();
    return logits;
  }

  reorder(beamIndices: Int32Array): void {
    for (const i of beamIndices) {
      if (!(i >= 0 && i < this.rows)) throw new PolyglotError(`XGLMDecoderSession.reorder: row ${i} out of range [0, ${this.rows})`);
    }
    const pick = <V>(xs: V[]): V[] => Array.from(beamIndices, (i) => xs[i]);
    this.mask = pick(this.mask).map((r) => r.slice());
    if (this.promptMask) this.promptMask = pick(this.promptMask).map((r) => r.slice());
    // Beams that all stay on their rows move nothing (the cache is the largest thing copied).
    const identity = beamIndices.length === this.rows && beamIndices.every((r, i) => r === i);
    if (this.past && !identity) {
      const idx = tf.tensor1d(beamIndices, 'int32');
      const old = this.past;
      this.past = old.map((kv) => ({ key: tf.gather(kv.key, idx, 0), value: tf.gather(kv.value, idx, 0), length: kv.length }));
      idx.dispose();
      for (const kv of old) {
        kv.key.dispose();
        kv.value.dispose();
      }
    }
    this.rows = beamIndices.length;
  }

  /** Disposes the cache's tensors except those in `keep`. */
  private disposeCache(keep: ReadonlySet<tf.Tensor> = new Set()): void {
    for (const kv of this.past ?? []) {
      for (const t of [kv.key, kv.value]) if (!keep.has(t)) t.dispose();
    }
    this.past = undefined;
  }

  dispose(): void {
    this.disposeCache();
    this.disposed = true;
  }
}
