/**
 * XGLM case handlers: forward, incremental, generate_greedy, loss (this file) and
 * grad / adamw_step (train's shared handlers over a fresh model per case).
 */
import { applyWeightPrecision } from '../layers/weight-precision.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import type { HfCheckpoint } from '../convert/checkpoint.js';
import type { KeyValue } from '../layers/attention.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { XGLMDecoderSession } from '../models/xglm/session.js';
import { generate } from '../generation/generate.js';
import type { GenerateOptions } from '../generation/options.js';
import { readGenerationConfig, withDefaults, type GenerationDefaults } from '../generation/generation-config.js';
import { gradCase, adamwStepCase, hostToTensor } from './train-cases.js';
import type { ActualOutput, CaseContext, CaseHandler, ModelCaseRunner } from './types.js';

function toActual(t: tf.Tensor, positionMask?: tf.Tensor): ActualOutput {
  const out: ActualOutput = { data: t.dataSync().slice(), shape: t.shape.slice() };
  if (positionMask) out.positionMask = { data: positionMask.dataSync().slice(), shape: positionMask.shape.slice(0, 2) as [number, number] };
  return out;
}

function defined(xs: (tf.Tensor | undefined)[]): tf.Tensor[] {
  return xs.filter((t): t is tf.Tensor => t !== undefined);
}

function intRows(t: tf.Tensor2D): number[][] {
  return t.arraySync() as number[][];
}

function optionalInput(ctx: CaseContext, key: string): tf.Tensor | undefined {
  return typeof ctx.spec.inputs[key] === 'string' ? hostToTensor(ctx.input(key)) : undefined;
}

function build(ck: HfCheckpoint, overrides: Record<string, unknown> | undefined, maxMemoryGB?: number): XGLMForCausalLM {
  return XGLMForCausalLM.fromCheckpoint(ck, { configOverrides: overrides, maxMemoryGB });
}

export const xglmCaseRunner: ModelCaseRunner = {
  async prepare(fixtureDir, weights = 'float32', maxMemoryGB) {
    const ck = openCheckpoint(fixtureDir);
    const models = new Map<string, XGLMForCausalLM>();
    // One model per distinct config_overrides (weights loaded once each).
    const modelFor = (ctx: CaseContext): XGLMForCausalLM => {
      const overrides = ctx.spec.params?.config_overrides as Record<string, unknown> | undefined;
      const key = JSON.stringify(overrides ?? {});
      let lm = models.get(key);
      if (!lm) {
        lm = build(ck, overrides, maxMemoryGB);
        applyWeightPrecision(lm, weights);
        models.set(key, lm);
      }
      return lm;
    };
    // A train-mode case is deterministic (and then equal to HF's model.train()) only when every
    // dropout probability and layerdrop of the case's config is 0 (e.g. set by config_overrides).
    const trainMode = (ctx: CaseContext, lm: XGLMForCausalLM): 'eval' | 'train' | 'random' => {
      if (ctx.spec.mode !== 'train') return 'eval';
      const c = lm.config;
      return c.dropout === 0 && c.attentionDropout === 0 && c.activationDropout === 0 && c.layerdrop === 0 ? 'train' : 'random';
    };

    const forward: CaseHandler = async (ctx) => {
      const lm = modelFor(ctx);
      const inputIds = hostToTensor(ctx.input('input_ids')) as tf.Tensor2D;
      const attentionMask = optionalInput(ctx, 'attention_mask') as tf.Tensor2D | undefined;
      const positionIds = optionalInput(ctx, 'position_ids') as tf.Tensor2D | undefined;
      try {
        const mode = trainMode(ctx, lm);
        if (mode === 'random') return { unsupported: 'forward in train mode with nonzero dropout/layerdrop (random) cannot match a reference' };
        const out = lm.forward({ inputIds, attentionMask, positionIds, training: mode === 'train' });
        try {
          const result: Record<string, ActualOutput> = {
            logits: toActual(out.logits, attentionMask),
            last_hidden_state: toActual(out.lastHiddenState, attentionMask),
          };
          return result;
        } finally {
          tf.dispose([out.logits, out.lastHiddenState, ...out.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
        }
      } finally {
        tf.dispose(defined([inputIds, attentionMask, positionIds]));
      }
    };

    // Prompt in one call, then one token at a time with the cache and attention_mask[:, :t+1].
    // Without position_ids HF defaults to arange(past, past + len); given [B, T] position_ids
    // (as generation computes them for left padding), each call gets its columns.
    const incremental: CaseHandler = async (ctx) => {
      const lm = modelFor(ctx);
      const promptLength = Number(ctx.literal<number>('prompt_length') ?? 1);
      const ids = hostToTensor(ctx.input('input_ids')) as tf.Tensor2D;
      const mask = (optionalInput(ctx, 'attention_mask') ?? tf.onesLike(ids)) as tf.Tensor2D;
      const positions = optionalInput(ctx, 'position_ids') as tf.Tensor2D | undefined;
      const [b, t] = ids.shape;
      if (!(promptLength >= 1 && promptLength <= t)) throw new PolyglotError(`case "${ctx.spec.name}": prompt_length ${promptLength} outside [1, ${t}]`);
      const pieces: tf.Tensor[] = [];
      let past: KeyValue<tf.Tensor>[] | undefined;
      try {
        for (let start = 0; start < t; ) {
          const len = start === 0 ? promptLength : 1;
          const stepIds = tf.slice(ids, [0, start], [b, len]) as tf.Tensor2D;
          const stepMask = tf.slice(mask, [0, 0], [b, start + len]) as tf.Tensor2D;
          const stepPositions = positions ? (tf.slice(positions, [0, start], [positions.shape[0], len]) as tf.Tensor2D) : undefined;
          const out = lm.forward({ inputIds: stepIds, attentionMask: stepMask, positionIds: stepPositions, pastKeyValues: past });
          tf.dispose(defined([stepIds, stepMask, stepPositions, out.lastHiddenState, ...(past ?? []).flatMap((kv) => [kv.key, kv.value])]));
          past = out.presentKeyValues;
          pieces.push(out.logits);
          start += len;
        }
        const logits = tf.concat(pieces, 1);
        const result = { logits: toActual(logits, mask) };
        logits.dispose();
        return result;
      } finally {
        tf.dispose(defined([ids, mask, positions, ...pieces, ...(past ?? []).flatMap((kv) => [kv.key, kv.value])]));
      }
    };

    // HF generate(do_sample=False) starts from model.generation_config: generation_config.json when
    // the checkpoint has one (pad_token_id unset there -> the first eos id), else the model config
    // (GenerationConfig.from_model_config). The case's params override; the kind forces greedy.
    const generationFile = fs.existsSync(path.join(fixtureDir, 'generation_config.json'));
    const generationDefaults = readGenerationConfig(fixtureDir);
    const generateGreedy: CaseHandler = async (ctx) => {
      const lm = modelFor(ctx);
      const ids = hostToTensor(ctx.input('input_ids')) as tf.Tensor2D;
      const maskT = optionalInput(ctx, 'attention_mask') as tf.Tensor2D | undefined;
      const prompt = intRows(ids);
      const mask = maskT ? intRows(maskT) : prompt.map((r) => r.map(() => 1));
      tf.dispose(defined([ids, maskT]));
      const base: GenerationDefaults = generationFile
        ? generationDefaults
        : { eosTokenId: lm.config.eosTokenId ?? undefined, padTokenId: lm.config.padTokenId };
      const opts = withDefaults<GenerateOptions>(base, {
        maxNewTokens: ctx.literal<number>('max_new_tokens'),
        maxLength: ctx.literal<number>('max_length'),
        minNewTokens: ctx.literal<number>('min_new_tokens'),
        minLength: ctx.literal<number>('min_length'),
        repetitionPenalty: ctx.literal<number>('repetition_penalty'),
        noRepeatNgramSize: ctx.literal<number>('no_repeat_ngram_size'),
        eosTokenId: ctx.literal<number | number[]>('eos_token_id'),
        padTokenId: ctx.literal<number>('pad_token_id'),
        doSample: false,
        numBeams: 1,
        numReturnSequences: 1,
      });
      delete (opts as GenerationDefaults).decoderStartTokenId;
      // HF's default length limit is max_length 20 (prompt included).
      if (opts.maxNewTokens === undefined && opts.maxLength === undefined) opts.maxLength = 20;
      const session = new XGLMDecoderSession(lm, mask);
      try {
        const { sequences } = await generate(session, { inputIds: prompt }, opts);
        const width = sequences[0].length;
        return { sequences: { data: sequences.flat(), shape: [sequences.length, width] } };
      } finally {
        session.dispose();
      }
    };

    const loss: CaseHandler = async (ctx) => {
      const lm = modelFor(ctx);
      const batch: Record<string, tf.Tensor> = { input_ids: hostToTensor(ctx.input('input_ids')), labels: hostToTensor(ctx.input('labels')) };
      // Optional inputs the model uses (a case may give generation-style position_ids).
      for (const key of ['attention_mask', 'position_ids']) {
        const t = optionalInput(ctx, key);
        if (t) batch[key] = t;
      }
      try {
        const mode = trainMode(ctx, lm);
        if (mode === 'random') return { unsupported: 'loss in train mode with nonzero dropout/layerdrop (random) cannot match a reference' };
        const value = tf.tidy(() => lm.computeLoss(batch, { training: mode === 'train' }).loss);
        const result = { loss: toActual(value) };
        value.dispose();
        return result;
      } finally {
        tf.dispose(Object.values(batch));
      }
    };

    // grad / adamw_step build a fresh model per case (they change the weights).
    const fresh = (params: Record<string, unknown>) => build(ck, params.config_overrides as Record<string, unknown> | undefined);

    return {
      forward,
      incremental,
      generate_greedy: generateGreedy,
      loss,
      grad: gradCase(fresh),
      adamw_step: adamwStepCase(fresh),
      dispose() {
        for (const lm of models.values()) lm.dispose();
        models.clear();
      },
    };
  },
};
