/** A tiny bigram language model and a synthetic batch source for trainer / checkpoint tests. */
import { tf } from '../core/tf.js';
import { Rng, type RngState } from '../core/random.js';
import type { TrainableModel, NamedParameter, LossOutput } from '../core/trainable.js';
import type { BatchSource, HostBatch } from '../train/batch.js';

export class ToyLM implements TrainableModel {
  readonly emb: tf.LayerVariable;
  readonly proj: tf.LayerVariable;
  readonly bias: tf.LayerVariable;
  constructor(readonly vocab = 16, readonly d = 8, seed = 1) {
    const r = new Rng(seed);
    const init = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape[0] * (shape[1] ?? 1) }, () => r.normal() * 0.1), shape);
    // LayerVariable copies its initial value into its own tf.Variable.
    const mk = (t: tf.Tensor, name: string) => {
      const v = new tf.LayerVariable(t, 'float32', name);
      t.dispose();
      return v;
    };
    const uid = Math.random().toString(36).slice(2);
    this.emb = mk(init([vocab, d]), `toy_emb_${uid}`);
    this.proj = mk(init([d, vocab]), `toy_proj_${uid}`);
    this.bias = mk(tf.zeros([vocab]), `toy_bias_${uid}`);
  }
  namedParameters(): NamedParameter[] {
    return [
      { name: 'model.embed_tokens.weight', variable: this.emb, transposed: false },
      { name: 'lm_head.weight', variable: this.proj, transposed: true },
      { name: 'lm_head.bias', variable: this.bias, transposed: false },
    ];
  }
  computeLoss(batch: Record<string, tf.Tensor>, opts: { training: boolean; rng?: Rng }): LossOutput {
    return tf.tidy(() => {
      const ids = batch.input_ids as tf.Tensor2D;
      const [b, t] = ids.shape;
      let h = tf.gather(this.emb.read(), ids.reshape([-1]));
      if (opts.training && opts.rng) {
        const keep = tf.greaterEqual(tf.randomUniform(h.shape, 0, 1, 'float32', opts.rng.nextSeed()), 0.1);
        h = tf.div(tf.mul(h, tf.cast(keep, 'float32')), 0.9);
      }
      const logits = tf.add(tf.matMul(h, this.proj.read()), this.bias.read()).reshape([b, t, this.vocab]);
      const lg = tf.slice(logits, [0, 0, 0], [b, t - 1, this.vocab]).reshape([-1, this.vocab]);
      const labels = tf.slice(batch.labels, [0, 1], [b, t - 1]).reshape([-1]);
      const valid = tf.cast(tf.notEqual(labels, -100), 'float32');
      const safe = tf.maximum(labels, 0);
      const logp = tf.logSoftmax(lg);
      const picked = tf.sum(tf.mul(logp, tf.oneHot(tf.cast(safe, 'int32'), this.vocab)), 1);
      const loss = tf.div(tf.neg(tf.sum(tf.mul(picked, valid))), tf.maximum(tf.sum(valid), 1)) as tf.Scalar;
      return { loss, components: { lm_loss: loss.clone() as tf.Scalar } };
    });
  }
  dispose(): void {
    this.emb.dispose();
    this.proj.dispose();
    this.bias.dispose();
  }
}

/** Sequences following k -> (3k+1) mod V with noise: learnable, deterministic per seed. */
export class ToySource implements BatchSource {
  epoch = 0;
  private index = 0;
  private rng: Rng;
  readonly batchesPerEpoch = 8;
  constructor(private readonly seed: number, readonly vocab = 16, readonly b = 4, readonly t = 12) {
    this.rng = new Rng(seed);
  }
  next(): HostBatch {
    const ids = new Int32Array(this.b * this.t);
    for (let i = 0; i < this.b; i++) {
      let k = this.rng.int(this.vocab);
      for (let j = 0; j < this.t; j++) {
        ids[i * this.t + j] = k;
        k = this.rng.uniform() < 0.9 ? (3 * k + 1) % this.vocab : this.rng.int(this.vocab);
      }
    }
    if (++this.index === this.batchesPerEpoch) {
      this.index = 0;
      this.epoch++;
    }
    return { arrays: { input_ids: { data: ids, shape: [this.b, this.t] }, labels: { data: ids.slice(), shape: [this.b, this.t] } }, tokens: ids.length, targets: this.b * (this.t - 1) };
  }
  state(): unknown {
    return { epoch: this.epoch, index: this.index, rng: this.rng.state() };
  }
  restore(s: unknown): void {
    const st = s as { epoch: number; index: number; rng: RngState };
    this.epoch = st.epoch;
    this.index = st.index;
    this.rng = new Rng(st.rng);
  }
}

/** A fixed held-out set. */
export function toyEvalBatches(): HostBatch[] {
  const s = new ToySource(999);
  return [s.next(), s.next()];
}
