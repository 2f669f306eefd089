/**
 * XGLMModel / XGLMForCausalLM (HF modeling_xglm.py): scaled token embeddings plus
 * sinusoidal positions (position_ids + 2), dropout, pre-LN decoder blocks with
 * LayerDrop in training, final LayerNorm, lm_head tied to embed_tokens.
 */
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import type { Rng } from '../../core/random.js';
import type { Ops } from '../../ops/ops.js';
import { eagerOps } from '../../ops/eager.js';
import type { HfParameter, RunOptions } from '../../layers/base.js';
import { ScaledEmbedding } from '../../layers/scaled-embedding.js';
import { SinusoidalPositions, defaultPositionIds } from '../../layers/sinusoidal-positions.js';
import { XGLMDecoderBlock } from './decoder-block.js';
import { LayerNorm } from '../../layers/layer-norm.js';
import { Linear } from '../../layers/linear.js';
import type { KeyValue } from '../../layers/attention.js';
import { causalAttentionMask } from '../../layers/attention-mask.js';
import { dropout } from '../../layers/dropout.js';
import { layerDropSkips } from '../../layers/layer-drop.js';
import { checkpointed, trainedVariablesOf } from '../../layers/checkpoint.js';
import { crossEntropy } from '../../losses/cross-entropy.js';
import { chunkedTiedCrossEntropy, LOGITS_CHUNK_ELEMENTS } from '../../losses/chunked-cross-entropy.js';
import type { ComputeLossOptions } from '../../core/trainable.js';
import type { HfCheckpoint } from '../../convert/checkpoint.js';
import type { CheckpointFormat } from '../checkpoint-format.js';
import { modelFromCheckpoint, modelFromPretrained, type GenerationConfigFile, type PretrainedOptions, type LoadOptions } from '../pretrained.js';
import type { XGLMConfig } from './config.js';
import { xglmFormat } from './format.js';

export interface XGLMRunInput<T> extends RunOptions {
  /** [B, T] int32 */
  inputIds: T;
  /** [B, past + T], 1 = real token, 0 = padding. */
  attentionMask?: T;
  /** [B, T] or [1, T]; default arange(past, past + T) for every row (HF). */
  positionIds?: T;
  /** One entry per layer, keys/values [B, heads, past, head_dim]. */
  past?: KeyValue<T>[];
}

export class XGLMModel {
  readonly embedTokens: ScaledEmbedding;
  readonly embedPositions: SinusoidalPositions;
  readonly layers: XGLMDecoderBlock[];
  readonly layerNorm: LayerNorm;

  constructor(readonly config: XGLMConfig, prefix = 'model.') {
    const c = config;
    this.embedTokens = new ScaledEmbedding({
      vocabSize: c.vocabSize,
      dim: c.dModel,
      hfName: `${prefix}embed_tokens`,
      paddingIdx: c.padTokenId,
      scale: c.scaleEmbedding ? Math.sqrt(c.dModel) : 1,
    });
    this.embedPositions = new SinusoidalPositions({ numPositions: c.maxPositionEmbeddings, dim: c.dModel, paddingIdx: c.padTokenId, name: `${prefix}embed_positions.weights` });
    this.layers = [];
    for (let i = 0; i < c.numLayers; i++) {
      this.layers.push(
        new XGLMDecoderBlock({
          dim: c.dModel,
          ffnDim: c.ffnDim,
          numHeads: c.attentionHeads,
          activation: c.activationFunction,
          dropout: c.dropout,
          attentionDropout: c.attentionDropout,
          activationDropout: c.activationDropout,
          hfName: `${prefix}layers.${i}`,
        }),
      );
    }
    this.layerNorm = new LayerNorm({ dim: c.dModel, hfName: `${prefix}layer_norm` });
  }

  hfParameters(): HfParameter[] {
    return [...this.embedTokens.hfParameters(), ...this.layers.flatMap((l) => l.hfParameters()), ...this.layerNorm.hfParameters()];
  }

  /** Returns the hidden states after the final LayerNorm and each layer's keys/values (empty when LayerDrop skipped a layer). */
  run<T>(o: Ops<T>, input: XGLMRunInput<T>): { hidden: T; presents: KeyValue<T>[] } {
    const [, length] = o.shape(input.inputIds);
    if (input.past && input.past.length !== this.layers.length) {
      throw new PolyglotError(`pastKeyValues: expected ${this.layers.length} layers, found ${input.past.length}`);
    }
    // A decoding session's cache buffer may have spare rows: `length` says how many are in use.
    const pastLength = input.past ? (input.past[0].length ?? o.shape(input.past[0].key)[2]) : 0;
    if (input.attentionMask !== undefined) {
      const maskLength = o.shape(input.attentionMask)[1];
      if (typeof maskLength === 'number' && typeof pastLength === 'number' && typeof length === 'number' && maskLength !== pastLength + length) {
        throw new PolyglotError(`attentionMask: expected ${pastLength + length} columns (past ${pastLength} + new ${length} tokens), found ${maskLength}`);
      }
    }
    if (typeof pastLength === 'number' && typeof length === 'number') {
      // HF regrows the table when padding_idx + 1 + T + past exceeds it.
      this.embedPositions.ensureRows(pastLength + length + this.embedPositions.cfg.offset);
    }
    const positionIds = input.positionIds ?? defaultPositionIds(o, pastLength, length);
    let h = o.add(this.embedTokens.run(o, input.inputIds), this.embedPositions.lookupPositions(o, positionIds));
    h = dropout(o, h, this.config.dropout, input);
    const mask = causalAttentionMask(o, input.attentionMask, length, pastLength);
    const presents: KeyValue<T>[] = [];
    let complete = true;
    this.layers.forEach((layer, i) => {
      if (layerDropSkips(this.config.layerdrop, input)) {
        complete = false;
        return;
      }
      const policy = input.gradientCheckpointing;
      if (policy && o.kind === 'eager' && !input.past) {
        // Training with --gradient-checkpointing: keep only this block's input; no keys/values are returned.
        const run = (xs: tf.Tensor[], consts: tf.Tensor[], rng: Rng | undefined) =>
          layer.run(eagerOps, xs[0], { mask: consts[0], training: input.training, rng }).hidden;
        h = checkpointed(run, [h as unknown as tf.Tensor], mask === undefined ? [] : [mask as unknown as tf.Tensor], trainedVariablesOf(policy, layer.cfg.hfName), input.rng) as unknown as T;
        complete = false;
        return;
      }
      const runLayer = () => layer.run(o, h, { mask, past: input.past?.[i], training: input.training, rng: input.rng });
      // Eager: free each block's intermediates as soon as it is done, so the peak is one block's
      // activations instead of all of them (what lets a 128-token prompt through the 564M model
      // on the 4 GB wasm heap). Inside variableGrads this is safe: tfjs keeps what backprop needs.
      const out = o.kind === 'eager' ? (tf.tidy(() => runLayer() as unknown as tf.TensorContainer) as unknown as ReturnType<typeof runLayer>) : runLayer();
      h = out.hidden;
      presents.push(out.present);
    });
    return { hidden: this.layerNorm.run(o, h), presents: complete ? presents : [] };
  }

  dispose(): void {
    for (const p of this.hfParameters()) p.variable.dispose();
    this.embedPositions.dispose();
  }
}

export interface XGLMForwardInput {
  inputIds: tf.Tensor2D;
  attentionMask?: tf.Tensor2D;
  positionIds?: tf.Tensor2D;
  pastKeyValues?: KeyValue<tf.Tensor>[];
  training?: boolean;
  rng?: Rng;
  /** Compute logits for the last position only ([B, 1, V]): what decoding needs. */
  lastPositionOnly?: boolean;
}

export interface XGLMForwardOutput {
  logits: tf.Tensor3D;
  lastHiddenState: tf.Tensor3D;
  presentKeyValues: KeyValue<tf.Tensor>[];
}

export class XGLMForCausalLM {
  readonly model: XGLMModel;
  /** Only with tie_word_embeddings false: HF then keeps lm_head as its own Linear (no bias). */
  readonly lmHead?: Linear;

  constructor(readonly config: XGLMConfig) {
    this.model = new XGLMModel(config);
    if (!config.tieWordEmbeddings) {
      this.lmHead = new Linear({ inFeatures: config.dModel, outFeatures: config.vocabSize, hfName: 'lm_head', bias: false });
    }
  }

  /** hidden [..., d] -> logits [..., vocab]: the tied embedding (HF default) or the untied lm_head. */
  private project<T>(o: Ops<T>, hidden: T): T {
    return this.lmHead ? this.lmHead.run(o, hidden) : this.model.embedTokens.project(o, hidden);
  }

  /** The checkpoint formats (config.json model_types) this class is built from. */
  static readonly formats: readonly CheckpointFormat<XGLMConfig>[] = [xglmFormat];

  /** generation_config.json of the directory the model came from (generateText starts from it, as HF generate()). */
  generationConfig?: GenerationConfigFile;

  /**
   * A model with a checkpoint's weights: a model directory (any layout) or a hub model id.
   * `configOverrides` use HF field names (e.g. {dropout: 0}).
   */
  static fromPretrained(idOrDir: string, options: PretrainedOptions = {}): Promise<XGLMForCausalLM> {
    return modelFromPretrained(XGLMForCausalLM, idOrDir, options);
  }

  /** `fromPretrained` for a checkpoint already opened (convert/open-checkpoint.ts `openCheckpoint`). */
  static fromCheckpoint(ck: HfCheckpoint, options: LoadOptions = {}): XGLMForCausalLM {
    return modelFromCheckpoint(XGLMForCausalLM, ck, options);
  }

  /** Parameters by HF name (a tied lm_head.weight is model.embed_tokens.weight, not listed again). */
  namedParameters(): HfParameter[] {
    return [...this.model.hfParameters(), ...(this.lmHead?.hfParameters() ?? [])];
  }

  /** Ops-generic forward: logits = hidden E^T (tied lm_head, no bias). */
  run<T>(o: Ops<T>, input: XGLMRunInput<T> & { lastPositionOnly?: boolean }): { logits: T; hidden: T; presents: KeyValue<T>[] } {
    const { hidden, presents } = this.model.run(o, input);
    let head = hidden;
    if (input.lastPositionOnly) {
      const [b, t, d] = o.shape(hidden);
      head = o.slice(hidden, [0, typeof t === 'number' ? t - 1 : o.dimAdd(t, -1), 0], [b, 1, d]);
    }
    return { logits: this.project(o, head), hidden, presents };
  }

  /** Eager forward; the caller disposes the returned tensors. */
  forward(input: XGLMForwardInput): XGLMForwardOutput {
    return tf.tidy(() => {
      const r = this.run(eagerOps, {
        inputIds: input.inputIds,
        attentionMask: input.attentionMask,
        positionIds: input.positionIds,
        past: input.pastKeyValues,
        training: input.training ?? false,
        rng: input.rng,
        lastPositionOnly: input.lastPositionOnly,
      });
      const out: XGLMForwardOutput = { logits: r.logits as tf.Tensor3D, lastHiddenState: r.hidden as tf.Tensor3D, presentKeyValues: r.presents };
      return out as unknown as tf.TensorContainer;
    }) as unknown as XGLMForwardOutput;
  }

  /**
   * Causal-LM loss of transformers >= 4.46: logits[:, :-1] against labels[:, 1:] (labels not
   * pre-shifted by the caller), ignore_index -100, mean over the non-ignored targets.
   * batch: input_ids, labels, optional attention_mask / position_ids. Call inside tf.tidy / variableGrads.
   */
  /** Current HF causal-LM loss (labels not pre-shifted); `labelSmoothing` as torch's CrossEntropyLoss. */
  computeLoss(
    batch: Record<string, tf.Tensor>,
    opts: RunOptions & Pick<ComputeLossOptions, 'labelSmoothing' | 'trained' | 'logitsChunkRows'>,
  ): { loss: tf.Scalar; components: Record<string, tf.Scalar> } {
    const o = eagerOps;
    const inputIds = batch.input_ids;
    const labels = batch.labels;
    if (!inputIds || !labels) throw new PolyglotError('XGLM loss batch: expected tensors "input_ids" and "labels"');
    if (labels.shape.join() !== inputIds.shape.join()) {
      throw new PolyglotError(`XGLM loss batch: "labels" shape [${labels.shape}] must equal "input_ids" shape [${inputIds.shape}]`);
    }
    const { labelSmoothing, trained, logitsChunkRows, ...runOpts } = opts;
    const { hidden } = this.model.run(o, { inputIds, attentionMask: batch.attention_mask, positionIds: batch.position_ids, ...runOpts });
    const [b, t, d] = hidden.shape as number[];
    // Only positions 0..T-2 have a target: skip the last position's logits entirely.
    const targetsFlat = tf.reshape(tf.slice(labels, [0, 1], [b, t - 1]), [-1]) as tf.Tensor1D;
    if (!this.lmHead && (logitsChunkRows !== undefined || b * (t - 1) * this.config.vocabSize > LOGITS_CHUNK_ELEMENTS)) {
      const table = this.model.embedTokens.embeddings.read();
      const h2 = tf.reshape(tf.slice(hidden, [0, 0, 0], [b, t - 1, d]), [-1, d]) as tf.Tensor2D;
      const tableNeedsGrad = trained ? trained.some((p) => p.variable === table) : true;
      const loss = chunkedTiedCrossEntropy(h2, table as tf.Tensor2D, tf.cast(targetsFlat, 'int32') as tf.Tensor1D, { labelSmoothing, tableNeedsGrad, chunkRows: logitsChunkRows });
      return { loss, components: { lm_loss: loss } };
    }
    const logits = this.project(o, tf.slice(hidden, [0, 0, 0], [b, t - 1, d]));
    const loss = crossEntropy(o, tf.reshape(logits, [-1, this.config.vocabSize]), targetsFlat, { labelSmoothing }) as tf.Scalar;
    return { loss, components: { lm_loss: loss } };
  }

  dispose(): void {
    this.model.dispose();
    this.lmHead?.disposeParameters();
  }
}
