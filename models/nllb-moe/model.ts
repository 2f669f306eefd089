/**
 * NLLB-MoE (HF NllbMoeModel / NllbMoeForConditionalGeneration, docs/NLLB-MOE.md section 1).
 *
 * The math is written once against `Ops<T>` (`encode`, `decode`); `forward`, `computeLoss` and
 * the generation session call it with eagerOps, the graph exporter with its GraphDef ops.
 * Shared scaled embeddings (`model.shared.weight`) feed the encoder, the decoder and the tied
 * lm_head; sinusoidal positions from input ids; pre-LayerNorm blocks with dense or sparse FFNs.
 */
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import type { Rng } from '../../core/random.js';
import type { Dim, Ops } from '../../ops/ops.js';
import { eagerOps } from '../../ops/eager.js';
import type { HfParameter } from '../../layers/base.js';
import type { KeyValue } from '../../layers/attention.js';
import { causalAttentionMask, paddingAttentionMask } from '../../layers/attention-mask.js';
import { dropout } from '../../layers/dropout.js';
import { layerDropSkips } from '../../layers/layer-drop.js';
import { LayerNorm } from '../../layers/layer-norm.js';
import { Linear } from '../../layers/linear.js';
import { ScaledEmbedding } from '../../layers/scaled-embedding.js';
import { SinusoidalPositions, positionIdsFromInputIds } from '../../layers/sinusoidal-positions.js';
import { NllbMoeEncoderBlock, type MoeBlockConfig } from './encoder-block.js';
import { NllbMoeDecoderBlock } from './decoder-block.js';
import type { ExpertOutputMaskingMode } from '../../layers/moe/expert-output-masking.js';
import type { RouterOutput } from '../../layers/moe/router.js';
import { collectMetrics, type MoeLayerMetrics } from './metrics.js';
import type { MoeLossMode } from '../../losses/moe-losses.js';
import { lmCrossEntropy, nllbMoeLoss } from './loss.js';
import { chunkedTiedCrossEntropy, LOGITS_CHUNK_ELEMENTS } from '../../losses/chunked-cross-entropy.js';
import { checkpointed, trainedVariablesOf } from '../../layers/checkpoint.js';
import type { GradientCheckpointing } from '../../core/gradient-checkpointing.js';
import type { ComputeLossOptions } from '../../core/trainable.js';
import type { LossOutput, NamedParameter, TrainableModel } from '../../core/trainable.js';
import { isSparseLayer, type NllbMoeConfig } from './config.js';
import type { CheckpointFormat } from '../checkpoint-format.js';
import { modelFromCheckpoint, modelFromPretrained, type GenerationConfigFile, type PretrainedOptions, type LoadOptions } from '../pretrained.js';
import { nllbMoeFormat } from './format.js';
import { m2m100Format } from './m2m100-format.js';
import type { HfCheckpoint } from '../../convert/checkpoint.js';
import type { ExpertStore } from '../../layers/moe/expert-store.js';

export type { MoeLayerMetrics };

/** Options of every forward call. */
export interface NllbMoeRunOptions {
  training: boolean;
  rng?: Rng;
  /** Training-mode expert-output masking: "token" (default, Dropout2d-style) or "hf" (element-wise). */
  expertOutputMasking?: ExpertOutputMaskingMode;
  /** Apply the random 2nd-expert policies in eval too (HF behaviour). */
  hfRandomRoutingInEval?: boolean;
  skipLogits?: boolean;
  /** Recompute dense blocks in backward instead of keeping their activations (layers/checkpoint.ts). */
  gradientCheckpointing?: GradientCheckpointing;
}

/** A mask list for checkpointed blocks: defined ones only, read back by position. */
const defined = (ts: (tf.Tensor | undefined)[]) => ts.filter((t): t is tf.Tensor => t !== undefined);

export interface DecoderCache<T> {
  self: KeyValue<T>;
  cross: KeyValue<T>;
}

export interface EncodeResult<T> {
  lastHiddenState: T;
  /** Per encoder layer; undefined for dense (or LayerDrop-skipped) layers. */
  routers: (RouterOutput<T> | undefined)[];
}

export interface DecodeResult<T> {
  lastHiddenState: T;
  logits: T;
  routers: (RouterOutput<T> | undefined)[];
  present: DecoderCache<T>[];
}

/**
 * Router padding per flattened token (1 = padding) from a 2-D mask [B, past + Tq] (1 = real):
 * the columns of the call's own tokens. Without a cache this is exactly HF's rule (the last row
 * of the 4-D mask). With a cache HF would take `mask.reshape(-1)[-B*Tq:]` (the last batch row's
 * keys, docs/NLLB-MOE.md section 7); we use each row's own new columns instead (HF generate passes no
 * decoder mask, so generation is unaffected).
 */
function hostRouterPadding(mask: tf.Tensor, queryLength: number): Float32Array {
  const m = mask.dataSync();
  const [b, tk] = mask.shape as [number, number];
  const pad = new Float32Array(b * queryLength);
  for (let r = 0; r < b; r++) {
    for (let j = 0; j < queryLength; j++) pad[r * queryLength + j] = m[r * tk + tk - queryLength + j] === 0 ? 1 : 0;
  }
  return pad;
}

export class NllbMoeModel {
  readonly shared: ScaledEmbedding;
  readonly encoderPositions: SinusoidalPositions;
  readonly decoderPositions: SinusoidalPositions;
  readonly encoderLayers: NllbMoeEncoderBlock[];
  readonly decoderLayers: NllbMoeDecoderBlock[];
  readonly encoderLayerNorm: LayerNorm;
  readonly decoderLayerNorm: LayerNorm;

  constructor(readonly config: NllbMoeConfig) {
    const c = config;
    const d = c.dModel;
    this.shared = new ScaledEmbedding({ vocabSize: c.vocabSize, dim: d, hfName: 'model.shared', paddingIdx: c.padTokenId, scale: c.scaleEmbedding ? Math.sqrt(d) : 1 });
    const pos = (name: string) => new SinusoidalPositions({ numPositions: c.maxPositionEmbeddings, dim: d, paddingIdx: c.padTokenId, name });
    this.encoderPositions = pos('model.encoder.embed_positions.weights');
    this.decoderPositions = pos('model.decoder.embed_positions.weights');
    const block = (side: 'encoder' | 'decoder', i: number): MoeBlockConfig => ({
      numExperts: c.numExperts,
      dModel: d,
      routerBias: c.routerBias,
      secondExpertPolicy: c.secondExpertPolicy,
      normalizeRouterProbBeforeDropping: c.normalizeRouterProbBeforeDropping,
      batchPrioritizedRouting: c.batchPrioritizedRouting,
      routerIgnorePaddingTokens: c.routerIgnorePaddingTokens,
      expertCapacity: c.expertCapacity,
      moeEvalCapacityTokenFraction: c.moeEvalCapacityTokenFraction,
      ffnDim: side === 'encoder' ? c.encoderFfnDim : c.decoderFfnDim,
      activationFunction: c.activationFunction,
      activationDropout: c.activationDropout,
      moeTokenDropout: c.moeTokenDropout,
      numHeads: side === 'encoder' ? c.encoderAttentionHeads : c.decoderAttentionHeads,
      dropout: c.dropout,
      attentionDropout: c.attentionDropout,
      isSparse: isSparseLayer(i, side === 'encoder' ? c.encoderSparseStep : c.decoderSparseStep),
      ffnOutputDropout: c.ffnOutputDropout === 'dropout' ? c.dropout : c.activationDropout,
      hfName: `model.${side}.layers.${i}`,
    });
    this.encoderLayers = Array.from({ length: c.encoderLayers }, (_, i) => new NllbMoeEncoderBlock(block('encoder', i)));
    this.decoderLayers = Array.from({ length: c.decoderLayers }, (_, i) => new NllbMoeDecoderBlock(block('decoder', i)));
    this.encoderLayerNorm = new LayerNorm({ dim: d, hfName: 'model.encoder.layer_norm' });
    this.decoderLayerNorm = new LayerNorm({ dim: d, hfName: 'model.decoder.layer_norm' });
  }

  /** Every parameter by HF name; the shared embedding once, as `model.shared.weight`. */
  hfParameters(): HfParameter[] {
    return [
      ...this.shared.hfParameters(),
      ...this.encoderLayers.flatMap((l) => l.hfParameters()),
      ...this.encoderLayerNorm.hfParameters(),
      ...this.decoderLayers.flatMap((l) => l.hfParameters()),
      ...this.decoderLayerNorm.hfParameters(),
    ];
  }

  private embed<T>(o: Ops<T>, ids: T, positions: SinusoidalPositions, past: Dim<T>, opts: NllbMoeRunOptions): T {
    const pad = this.config.padTokenId;
    if (o.kind === 'eager') {
      const [, len] = o.shape(ids) as number[];
      positions.ensureRows(pad + 1 + len + (past as number) + 1);
    }
    const rows = positionIdsFromInputIds(o, ids, pad, past);
    const h = o.add(this.shared.run(o, ids), positions.lookupRows(o, rows));
    return dropout(o, h, this.config.dropout, opts);
  }

  /** Encoder: ids [B, Ts] int32, attentionMask [B, Ts] (1 = real) or undefined. */
  encode<T>(o: Ops<T>, inputIds: T, attentionMask: T | undefined, opts: NllbMoeRunOptions): EncodeResult<T> {
    let h = this.embed(o, inputIds, this.encoderPositions, 0, opts);
    const mask = attentionMask === undefined ? undefined : paddingAttentionMask(o, attentionMask);
    const routerPad = this.routerPadding(o, attentionMask, inputIds, 0);
    const routers: (RouterOutput<T> | undefined)[] = [];
    for (const layer of this.encoderLayers) {
      if (layerDropSkips(this.config.encoderLayerdrop, opts)) {
        routers.push(undefined);
        continue;
      }
      const policy = opts.gradientCheckpointing;
      if (policy && o.kind === 'eager' && !layer.cfg.isSparse) {
        // Dense block, training with --gradient-checkpointing: keep only its input.
        const run = (xs: tf.Tensor[], consts: tf.Tensor[], rng: Rng | undefined) => layer.run(eagerOps, xs[0], { ...opts, rng, mask: consts[0] }).hidden;
        h = checkpointed(run, [h as unknown as tf.Tensor], defined([mask as unknown as tf.Tensor | undefined]), trainedVariablesOf(policy, layer.cfg.hfName), opts.rng) as unknown as T;
        routers.push(undefined);
        continue;
      }
      const r = layer.run(o, h, { ...opts, mask, ...routerPad });
      h = r.hidden;
      routers.push(r.router);
    }
    return { lastHiddenState: this.encoderLayerNorm.run(o, h), routers };
  }

  /** The router padding options for a call whose tokens are `ids` [B, Tq], 2-D mask [B, past + Tq]. */
  private routerPadding<T>(o: Ops<T>, mask: T | undefined, ids: T, pastLength: Dim<T>): { routerPaddingMask?: ArrayLike<number>; routerPaddingTensor?: T } {
    if (mask === undefined || this.config.routerIgnorePaddingTokens) return {};
    const [, tq] = o.shape(ids);
    if (o.kind === 'eager') return { routerPaddingMask: hostRouterPadding(mask as unknown as tf.Tensor, tq as number) };
    const own = o.slice(mask, [0, pastLength], [-1, tq]);
    return { routerPaddingTensor: o.reshape(o.sub(o.scalar(1), o.cast(own, 'float32')), [-1]) };
  }

  /**
   * Decoder: ids [B, Tq]; decoderAttentionMask [B, past + Tq] or undefined (HF then masks no
   * decoder token for the router); encoder output and its mask; optional caches from earlier steps.
   */
  decode<T>(
    o: Ops<T>,
    decoderInputIds: T,
    decoderAttentionMask: T | undefined,
    encoderHidden: T | undefined,
    encoderAttentionMask: T | undefined,
    past: DecoderCache<T>[] | undefined,
    pastLength: Dim<T>,
    opts: NllbMoeRunOptions,
  ): Omit<DecodeResult<T>, 'logits'> {
    let h = this.embed(o, decoderInputIds, this.decoderPositions, pastLength, opts);
    const tq = o.shape(decoderInputIds)[1];
    const selfMask = causalAttentionMask(o, decoderAttentionMask, tq, pastLength);
    const crossMask = encoderAttentionMask === undefined ? undefined : paddingAttentionMask(o, encoderAttentionMask);
    const routerPad = this.routerPadding(o, decoderAttentionMask, decoderInputIds, pastLength);
    const routers: (RouterOutput<T> | undefined)[] = [];
    const present: DecoderCache<T>[] = [];
    this.decoderLayers.forEach((layer, i) => {
      const p = past?.[i];
      if (layerDropSkips(this.config.decoderLayerdrop, opts)) {
        routers.push(undefined);
        if (p) present.push(p);
        return;
      }
      const policy = opts.gradientCheckpointing;
      if (policy && o.kind === 'eager' && !layer.cfg.isSparse && !p && encoderHidden !== undefined) {
        // Dense block, training with --gradient-checkpointing: keep only its inputs (no caches are returned).
        const hasSelf = selfMask !== undefined;
        const run = (xs: tf.Tensor[], consts: tf.Tensor[], rng: Rng | undefined) =>
          layer.run(eagerOps, xs[0], { ...opts, rng, encoderHidden: xs[1], selfMask: hasSelf ? consts[0] : undefined, crossMask: consts[hasSelf ? 1 : 0] }).hidden;
        const consts = defined([selfMask as unknown as tf.Tensor | undefined, crossMask as unknown as tf.Tensor | undefined]);
        h = checkpointed(run, [h as unknown as tf.Tensor, encoderHidden as unknown as tf.Tensor], consts, trainedVariablesOf(policy, layer.cfg.hfName), opts.rng) as unknown as T;
        routers.push(undefined);
        return;
      }
      const r = layer.run(o, h, {
        ...opts,
        ...routerPad,
        selfMask,
        crossMask,
        encoderHidden,
        pastSelf: p?.self,
        pastCross: p?.cross,
      });
      h = r.hidden;
      routers.push(r.router);
      present.push({ self: r.presentSelf, cross: r.presentCross });
    });
    return { lastHiddenState: this.decoderLayerNorm.run(o, h), routers, present };
  }

  dispose(): void {
    this.shared.disposeParameters();
    this.encoderPositions.dispose();
    this.decoderPositions.dispose();
    this.encoderLayers.forEach((l) => l.disposeParameters());
    this.decoderLayers.forEach((l) => l.disposeParameters());
    this.encoderLayerNorm.disposeParameters();
    this.decoderLayerNorm.disposeParameters();
  }
}

/** HF shift_tokens_right: [start, labels[:-1]] with -100 -> pad. */
export function shiftTokensRight(labels: tf.Tensor, padTokenId: number, decoderStartTokenId: number): tf.Tensor2D {
  return tf.tidy(() => {
    const l = tf.cast(labels, 'int32') as tf.Tensor2D;
    const [b, t] = l.shape;
    const start = tf.fill([b, 1], decoderStartTokenId, 'int32');
    const shifted = tf.concat([start, tf.slice(l, [0, 0], [b, t - 1])], 1) as tf.Tensor2D;
    return tf.where(tf.equal(shifted, -100), tf.fill([b, t], padTokenId, 'int32'), shifted) as tf.Tensor2D;
  });
}

export interface NllbMoeForwardInput extends Partial<NllbMoeRunOptions> {
  inputIds: tf.Tensor;
  attentionMask?: tf.Tensor;
  decoderInputIds?: tf.Tensor;
  decoderAttentionMask?: tf.Tensor;
  /** Used for decoder_input_ids = shift_tokens_right(labels) when decoderInputIds is absent. */
  labels?: tf.Tensor;
  /** computeLoss with a chunked head: no logits are computed (the output's `logits` is then undefined). */
  skipLogits?: boolean;
}

export interface NllbMoeForwardOutput {
  logits: tf.Tensor3D;
  encoderLastHiddenState: tf.Tensor3D;
  decoderLastHiddenState: tf.Tensor3D;
  /** Per layer (undefined for dense ones): raw logits, combine weights, top-1 index (tensors) and the host plan. */
  encoderRouters: (RouterOutput<tf.Tensor> | undefined)[];
  decoderRouters: (RouterOutput<tf.Tensor> | undefined)[];
  /** Per sparse layer: capacity drops, expert usage, router entropy. */
  moeMetrics: MoeLayerMetrics[];
  /** Decoder input ids used (shifted labels when only labels were given). */
  decoderInputIds: tf.Tensor2D;
}

export interface LossOptions {
  training: boolean;
  rng?: Rng;
  /** "standard" (default) or "hf". */
  moeLoss?: MoeLossMode;
  /** HF mode: add the aux loss only when set (default: config.output_router_logits). */
  outputRouterLogits?: boolean;
  expertOutputMasking?: ExpertOutputMaskingMode;
  hfRandomRoutingInEval?: boolean;
  /** torch CrossEntropyLoss(label_smoothing) for lm_loss (trainer option). */
  labelSmoothing?: number;
  gradientCheckpointing?: GradientCheckpointing;
  trained?: ComputeLossOptions['trained'];
  logitsChunkRows?: number;
}

export class NllbMoeForConditionalGeneration implements TrainableModel {
  /** The checkpoint formats (config.json model_types) this class is built from. */
  static readonly formats: readonly CheckpointFormat<NllbMoeConfig>[] = [nllbMoeFormat, m2m100Format];

  /**
   * A model with a checkpoint's weights: a model directory (any layout) or a hub model id.
   * `configOverrides` use HF field names (e.g. {moe_eval_capacity_token_fraction: 0.25}).
   */
  static fromPretrained(idOrDir: string, options: PretrainedOptions = {}): Promise<NllbMoeForConditionalGeneration> {
    return modelFromPretrained(NllbMoeForConditionalGeneration, idOrDir, options);
  }

  /** `fromPretrained` for a checkpoint already opened (convert/open-checkpoint.ts `openCheckpoint`). */
  static fromCheckpoint(ck: HfCheckpoint, options: LoadOptions = {}): NllbMoeForConditionalGeneration {
    return modelFromCheckpoint(NllbMoeForConditionalGeneration, ck, options);
  }

  /** generation_config.json of the directory the model came from (translate starts from it, as HF generate()). */
  generationConfig?: GenerationConfigFile;
  /** Offloaded experts (loaded with `maxMemoryGB`): the LRU cache and its hit / miss counters. */
  expertStore?: ExpertStore;

  readonly model: NllbMoeModel;
  /** Defaults of computeLoss when the caller does not say (set by loaders, e.g. verify's `moe_loss`). */
  lossDefaults: { moeLoss: MoeLossMode; outputRouterLogits?: boolean; expertOutputMasking?: ExpertOutputMaskingMode } = { moeLoss: 'standard' };
  /** Metrics of the last computeLoss / forward call (host numbers). */
  lastMoeMetrics: MoeLayerMetrics[] = [];

  constructor(readonly config: NllbMoeConfig) {
    this.model = new NllbMoeModel(config);
    if (!config.tieWordEmbeddings) {
      // HF keeps lm_head as its own Linear (no bias) then; encoder / decoder embed_tokens stay
      // model.shared (NllbMoeModel shares that Parameter in its constructor).
      this.lmHead = new Linear({ inFeatures: config.dModel, outFeatures: config.vocabSize, hfName: 'lm_head', bias: false });
    }
  }

  /** Only with tie_word_embeddings false. */
  readonly lmHead?: Linear;

  /** hidden [..., d] -> logits [..., vocab]: the tied shared embedding (HF default) or the untied lm_head. */
  project<T>(o: Ops<T>, hidden: T): T {
    return this.lmHead ? this.lmHead.run(o, hidden) : this.model.shared.project(o, hidden);
  }

  namedParameters(): NamedParameter[] {
    return [...this.model.hfParameters(), ...(this.lmHead?.hfParameters() ?? [])];
  }

  /** Generic forward (any Ops): logits from the tied head. */
  run<T>(
    o: Ops<T>,
    inputIds: T,
    attentionMask: T | undefined,
    decoderInputIds: T,
    decoderAttentionMask: T | undefined,
    opts: NllbMoeRunOptions,
  ): { logits: T; encoder: EncodeResult<T>; decoder: Omit<DecodeResult<T>, 'logits'> } {
    const encoder = this.model.encode(o, inputIds, attentionMask, opts);
    const decoder = this.model.decode(o, decoderInputIds, decoderAttentionMask, encoder.lastHiddenState, attentionMask, undefined, 0, opts);
    const logits = opts.skipLogits ? (undefined as unknown as T) : this.project(o, decoder.lastHiddenState);
    return { logits, encoder, decoder };
  }

  /** Eager forward. Returned tensors belong to the caller (dispose them, or call inside tf.tidy). */
  forward(input: NllbMoeForwardInput): NllbMoeForwardOutput {
    const opts: NllbMoeRunOptions = {
      training: input.training ?? false,
      rng: input.rng,
      expertOutputMasking: input.expertOutputMasking,
      hfRandomRoutingInEval: input.hfRandomRoutingInEval,
      gradientCheckpointing: input.gradientCheckpointing,
      skipLogits: input.skipLogits,
    };
    const ids = tf.cast(input.inputIds, 'int32');
    let dec: tf.Tensor;
    if (input.decoderInputIds) dec = tf.cast(input.decoderInputIds, 'int32');
    else if (input.labels) dec = shiftTokensRight(input.labels, this.config.padTokenId, this.config.decoderStartTokenId);
    else throw new PolyglotError('NLLB-MoE forward: give decoderInputIds or labels');
    if (ids.rank !== 2 || dec.rank !== 2) {
      throw new PolyglotError(`NLLB-MoE forward: expected input ids [batch, seq] and decoder ids [batch, seq], found ${JSON.stringify(ids.shape)} and ${JSON.stringify(dec.shape)}`);
    }
    const r = this.run(eagerOps, ids, input.attentionMask, dec, input.decoderAttentionMask, opts);
    const moeMetrics = [...collectMetrics('encoder', r.encoder.routers), ...collectMetrics('decoder', r.decoder.routers)];
    this.lastMoeMetrics = moeMetrics;
    if (ids !== input.inputIds) ids.dispose();
    return {
      logits: r.logits as tf.Tensor3D,
      encoderLastHiddenState: r.encoder.lastHiddenState as tf.Tensor3D,
      decoderLastHiddenState: r.decoder.lastHiddenState as tf.Tensor3D,
      encoderRouters: r.encoder.routers,
      decoderRouters: r.decoder.routers,
      moeMetrics,
      decoderInputIds: dec as tf.Tensor2D,
    };
  }

  /**
   * TrainableModel: batch {input_ids, attention_mask?, labels, decoder_input_ids?, decoder_attention_mask?}.
   * Call inside tf.tidy / tf.variableGrads. Components: lm_loss, the MoE loss parts, and per
   * sparse layer `moe/<side>.<layer>/dropped_token_fraction`, `.../dropped_assignment_fraction`,
   * `.../router_entropy`, `.../unused_experts`; histograms: `.../expert_usage` (surviving
   * assignments per expert).
   */
  computeLoss(batch: Record<string, tf.Tensor>, opts: LossOptions): LossOutput {
    const labels = batch.labels;
    if (!labels) throw new PolyglotError('NLLB-MoE computeLoss: the batch has no "labels"');
    if (!batch.input_ids) throw new PolyglotError('NLLB-MoE computeLoss: the batch has no "input_ids"');
    // Tied head over a big vocabulary: the loss in chunks, never the [tokens, vocab] logits.
    const chunked = !this.lmHead && (opts.logitsChunkRows !== undefined || labels.size * this.config.vocabSize > LOGITS_CHUNK_ELEMENTS);
    const out = this.forward({
      skipLogits: chunked,
      gradientCheckpointing: opts.gradientCheckpointing,
      inputIds: batch.input_ids,
      attentionMask: batch.attention_mask,
      decoderInputIds: batch.decoder_input_ids,
      decoderAttentionMask: batch.decoder_attention_mask,
      labels,
      training: opts.training,
      rng: opts.rng,
      expertOutputMasking: opts.expertOutputMasking ?? this.lossDefaults.expertOutputMasking,
      hfRandomRoutingInEval: opts.hfRandomRoutingInEval,
    });
    let lmLoss: tf.Tensor;
    if (chunked) {
      const table = this.model.shared.embeddings.read();
      const tableNeedsGrad = opts.trained ? opts.trained.some((p) => p.variable === table) : true;
      const hidden = tf.reshape(out.decoderLastHiddenState, [-1, this.config.dModel]) as tf.Tensor2D;
      lmLoss = chunkedTiedCrossEntropy(hidden, table as tf.Tensor2D, tf.reshape(tf.cast(labels, 'int32'), [-1]) as tf.Tensor1D, { labelSmoothing: opts.labelSmoothing, tableNeedsGrad, chunkRows: opts.logitsChunkRows });
    } else lmLoss = lmCrossEntropy(eagerOps, out.logits, labels, opts.labelSmoothing ?? 0);
    return nllbMoeLoss({
      batch,
      lmLoss,
      encoderRouters: out.encoderRouters,
      decoderRouters: out.decoderRouters,
      moeMetrics: out.moeMetrics,
      config: this.config,
      mode: opts.moeLoss ?? this.lossDefaults.moeLoss,
      outputRouterLogits: opts.outputRouterLogits ?? this.lossDefaults.outputRouterLogits ?? this.config.outputRouterLogits,
      labelSmoothing: opts.labelSmoothing ?? 0,
    });
  }

  dispose(): void {
    this.model.dispose();
    this.lmHead?.disposeParameters();
    this.expertStore?.dispose();
  }
}
