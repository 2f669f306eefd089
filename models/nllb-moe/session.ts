/**
 * Seq2seq DecoderSession for NLLB-MoE (HF generate, encoder-decoder; docs/NLLB-MOE.md section 5): the encoder
 * runs once at creation; each `step` feeds new decoder tokens with the self-attention cache
 * (growing) and the cross-attention cache (computed at the first step, reused). No decoder mask
 * is passed, as in HF generate, so no decoder token is padding-masked for the router, and each
 * step's eval capacity is ceil(fraction * batch * t) over that step's tokens only.
 */
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import { eagerOps } from '../../ops/eager.js';
import type { DecoderSession } from '../../core/decoder-session.js';
import type { DecoderCache, NllbMoeForConditionalGeneration } from './model.js';
import { collectMetrics, type MoeLayerMetrics } from './metrics.js';

export interface NllbMoeSessionOptions {
  /** Apply the random 2nd-expert policies in eval too (HF behaviour). */
  hfRandomRoutingInEval?: boolean;
  rng?: import('../../core/random.js').Rng;
}

export class NllbMoeSession implements DecoderSession {
  private encoderHidden: tf.Tensor3D;
  private encoderMask?: tf.Tensor2D;
  private cache?: DecoderCache<tf.Tensor>[];
  private pastLength = 0;
  private rows: number;
  /** MoE metrics of the last step (host numbers). */
  lastMoeMetrics: MoeLayerMetrics[] = [];

  constructor(
    private readonly model: NllbMoeForConditionalGeneration,
    inputIds: tf.Tensor2D,
    attentionMask?: tf.Tensor2D,
    private readonly opts: NllbMoeSessionOptions = {},
  ) {
    if (inputIds.rank !== 2) throw new PolyglotError(`NLLB-MoE session: input ids must be [batch, seq], found ${JSON.stringify(inputIds.shape)}`);
    this.rows = inputIds.shape[0];
    const ids = tf.cast(inputIds, 'int32');
    const mask = attentionMask ? (tf.cast(attentionMask, 'int32') as tf.Tensor2D) : undefined;
    const enc = tf.tidy(() => model.model.encode(eagerOps, ids, mask, { training: false, rng: opts.rng, hfRandomRoutingInEval: opts.hfRandomRoutingInEval }).lastHiddenState);
    ids.dispose();
    this.encoderHidden = enc as tf.Tensor3D;
    this.encoderMask = mask;
  }

  get batchSize(): number {
    return this.rows;
  }

  step(tokens: tf.Tensor2D): tf.Tensor2D {
    if (tokens.rank !== 2 || tokens.shape[0] !== this.rows) {
      throw new PolyglotError(`NLLB-MoE session: step tokens must be [${this.rows}, t], found ${JSON.stringify(tokens.shape)}`);
    }
    const t = tokens.shape[1];
    let metrics: MoeLayerMetrics[] = [];
    const { logits, present } = tf.tidy(() => {
      const ids = tf.cast(tokens, 'int32');
      const d = this.model.model.decode(eagerOps, ids, undefined, this.encoderHidden, this.encoderMask, this.cache, this.pastLength, {
        training: false,
        rng: this.opts.rng,
        hfRandomRoutingInEval: this.opts.hfRandomRoutingInEval,
      });
      metrics = collectMetrics('decoder', d.routers);
      const last = tf.slice(d.lastHiddenState, [0, t - 1, 0], [this.rows, 1, -1]);
      const lg = this.model.project(eagerOps, last);
      return { logits: tf.reshape(lg, [this.rows, -1]) as tf.Tensor2D, present: d.present.map((c) => [c.self.key, c.self.value, c.cross.key, c.cross.value]) };
    });
    this.pastLength += t;
    // The session owns its self-attention cache: marking it (`length`) lets the fused attention
    // append in place, so the new cache may hold the old tensors; dispose only those it dropped.
    const next = present.map(([sk, sv, ck, cv]) => ({ self: { key: sk, value: sv, length: this.pastLength }, cross: { key: ck, value: cv } }));
    this.disposeCache(new Set(next.flatMap((c) => [c.self.key, c.self.value, c.cross.key, c.cross.value])));
    this.cache = next;
    this.lastMoeMetrics = metrics;
    return logits;
  }

  /**
   * Expansion (batch -> batch * beams: the row count changes) gathers everything, as HF's
   * `_expand_inputs_for_generation` expands encoder outputs and attention mask. A beam reorder
   * (same row count) moves only the key/value caches, as HF's `_reorder_cache`: the encoder
   * outputs and mask keep the expanded order. They differ for rows of a finished batch entry,
   * which HF points at row 0; with a tight eval capacity those rows still compete for expert slots.
   */
  reorder(beamIndices: Int32Array): void {
    const idx = tf.tensor1d(beamIndices, 'int32');
    const pick = <R extends tf.Tensor>(x: R): R => {
      const y = tf.gather(x, idx, 0) as R;
      x.dispose();
      return y;
    };
    if (beamIndices.length !== this.rows) {
      this.encoderHidden = pick(this.encoderHidden);
      if (this.encoderMask) this.encoderMask = pick(this.encoderMask);
    }
    // Beams that all stay on their rows move nothing (the caches are the largest thing copied).
    const identity = beamIndices.length === this.rows && beamIndices.every((r, i) => r === i);
    if (this.cache && !identity) {
      this.cache = this.cache.map((c) => ({
        self: { key: pick(c.self.key), value: pick(c.self.value), length: c.self.length },
        cross: { key: pick(c.cross.key), value: pick(c.cross.value) },
      }));
    }
    idx.dispose();
    this.rows = beamIndices.length;
  }

  /** Disposes the cache's tensors except those in `keep` (cross k/v are reused every step, self k/v on the fused path). */
  private disposeCache(keep: ReadonlySet<tf.Tensor>): void {
    if (!this.cache) return;
    for (const c of this.cache) for (const x of [c.self.key, c.self.value, c.cross.key, c.cross.value]) if (!keep.has(x)) x.dispose();
  }

  dispose(): void {
    if (this.cache) for (const c of this.cache) tf.dispose([c.self.key, c.self.value, c.cross.key, c.cross.value]);
    this.cache = undefined;
    this.encoderHidden.dispose();
    this.encoderMask?.dispose();
  }
}
