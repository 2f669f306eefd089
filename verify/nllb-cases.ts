/**
 * NLLB-MoE case handlers: forward (logits, encoder states, router combine weights and top-1
 * indices per sparse layer), loss in both MoE-loss modes, generate_greedy; grad / adamw_step
 * through the shared training handlers (verify/train-cases.ts) on a fresh model per case.
 */
import { applyWeightPrecision, type WeightPrecision } from '../layers/weight-precision.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { HfCheckpoint } from '../convert/checkpoint.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import type { HostTensor } from '../convert/safetensors.js';
import { generate } from '../generation/generate.js';
import type { GenerateOptions } from '../generation/options.js';
import { readGenerationConfig, withDefaults, type GenerationDefaults } from '../generation/generation-config.js';
import { formatFor } from '../models/checkpoint-format.js';
import { NllbMoeForConditionalGeneration, type DecoderCache } from '../models/nllb-moe/model.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { eagerOps } from '../ops/eager.js';
import type { MoeLossMode } from '../losses/moe-losses.js';
import type { ActualOutput, CaseContext, ModelCaseRunner } from './types.js';
import { adamwStepCase, gradCase, hostToTensor } from './train-cases.js';

function actual(t: tf.Tensor, positionMask?: HostTensor): ActualOutput {
  const out: ActualOutput = { data: t.dataSync().slice(), shape: t.shape.slice() };
  if (positionMask) {
    const data = Array.from(positionMask.data as ArrayLike<number | bigint>, Number);
    out.positionMask = { data, shape: [positionMask.shape[0], positionMask.shape[1]] };
  }
  return out;
}

const SEQ2SEQ_INPUTS = ['input_ids', 'attention_mask', 'decoder_input_ids', 'decoder_attention_mask'] as const;
type Seq2SeqInput = (typeof SEQ2SEQ_INPUTS)[number];

type Seq2SeqInputs<V> = { input_ids: V } & Partial<Record<Seq2SeqInput, V>>;

/** The encoder / decoder inputs a case gives, as host tensors (input_ids is required). */
function seq2seqInputs(ctx: CaseContext): Seq2SeqInputs<HostTensor> {
  const given = SEQ2SEQ_INPUTS.filter((k) => k === 'input_ids' || ctx.spec.inputs[k] !== undefined);
  return Object.fromEntries(given.map((k) => [k, ctx.input(k)])) as Seq2SeqInputs<HostTensor>;
}

/** The same inputs as tensors (call inside tf.tidy). */
function toTensors(host: Seq2SeqInputs<HostTensor>): Seq2SeqInputs<tf.Tensor> {
  return Object.fromEntries(Object.entries(host).map(([k, v]) => [k, hostToTensor(v)])) as Seq2SeqInputs<tf.Tensor>;
}

function overridesOf(params: Record<string, unknown>): Record<string, unknown> {
  const o = { ...((params.config_overrides as Record<string, unknown> | undefined) ?? {}) };
  if (typeof params.training_expert_capacity === 'number') o.expert_capacity = params.training_expert_capacity;
  return o;
}

function moeLossOf(params: Record<string, unknown>): MoeLossMode {
  const m = params.moe_loss ?? 'hf';
  if (m !== 'hf' && m !== 'standard') throw new PolyglotError(`params.moe_loss: expected "hf" or "standard", found ${JSON.stringify(m)}`);
  return m;
}

export const nllbMoeCaseRunner: ModelCaseRunner = {
  async prepare(fixtureDir: string, weights: WeightPrecision = 'float32', maxMemoryGB?: number) {
    const ck: HfCheckpoint = openCheckpoint(fixtureDir);
    // gradients are named as the fixture's format spells them (m2m_100: fc1, encoder_attn, ...)
    const hfName = formatFor(NllbMoeForConditionalGeneration.formats, ck.config, `${fixtureDir}/config.json`).weights.hfName;
    const models = new Map<string, NllbMoeForConditionalGeneration>();
    /** A cached eval model per distinct config_overrides. */
    const modelFor = (params: Record<string, unknown>): NllbMoeForConditionalGeneration => {
      const ov = overridesOf(params);
      const key = JSON.stringify(ov);
      let m = models.get(key);
      if (!m) {
        m = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { configOverrides: ov, maxMemoryGB });
        applyWeightPrecision(m, weights);
        models.set(key, m);
      }
      return m;
    };
    const params = (ctx: CaseContext) => ctx.spec.params ?? {};
    // HF generate(do_sample=False) starts from model.generation_config: generation_config.json when
    // the checkpoint has one, else GenerationConfig.from_model_config (config.json's eos / pad /
    // decoder_start / forced_bos). The case's params override; the case kind forces greedy.
    const generationFile = fs.existsSync(path.join(fixtureDir, 'generation_config.json'));
    const generationDefaults = readGenerationConfig(fixtureDir);
    const freshForTraining = (p: Record<string, unknown>) => {
      const m = NllbMoeForConditionalGeneration.fromCheckpoint(ck, { configOverrides: overridesOf(p) });
      m.lossDefaults = { moeLoss: moeLossOf(p), outputRouterLogits: typeof p.output_router_logits === 'boolean' ? p.output_router_logits : undefined };
      return m;
    };

    return {
      forward: async (ctx) => {
        const model = modelFor(params(ctx));
        const host = seq2seqInputs(ctx);
        const out: Record<string, ActualOutput> = {};
        tf.tidy(() => {
          const t = toTensors(host);
          const r = model.forward({
            inputIds: t.input_ids,
            attentionMask: t.attention_mask,
            decoderInputIds: t.decoder_input_ids,
            decoderAttentionMask: t.decoder_attention_mask,
            training: false,
          });
          out.logits = actual(r.logits, host.decoder_attention_mask);
          out.encoder_last_hidden_state = actual(r.encoderLastHiddenState, host.attention_mask);
          out.decoder_last_hidden_state = actual(r.decoderLastHiddenState, host.decoder_attention_mask);
          // HF's Seq2SeqModelOutput name of the same tensor (the m2m100 fixture's key)
          out.last_hidden_state = out.decoder_last_hidden_state;
          for (const [side, routers] of [['encoder', r.encoderRouters], ['decoder', r.decoderRouters]] as const) {
            routers.forEach((rt, i) => {
              if (!rt) return;
              out[`${side}_router_logits/${i}`] = actual(rt.combineWeights);
              out[`${side}_expert_indices/${i}`] = actual(rt.top1Index);
            });
          }
        });
        return out;
      },

      // FORMAT.md `incremental` for seq2seq: the encoder once, the first prompt_length decoder
      // tokens in one call, then one token at a time with the self/cross caches (position ids
      // and eval capacity per call, as HF); logits of every step must equal the full forward.
      incremental: async (ctx) => {
        const model = modelFor(params(ctx));
        const host = seq2seqInputs(ctx);
        const decoderIds = host.decoder_input_ids;
        if (!decoderIds) throw new PolyglotError(`case "${ctx.spec.name}": an NLLB-MoE incremental case needs decoder_input_ids`);
        const [b, total] = decoderIds.shape;
        const prompt = Number(ctx.literal<number>('prompt_length') ?? 1);
        if (!(Number.isInteger(prompt) && prompt >= 1 && prompt <= total)) {
          throw new PolyglotError(`case "${ctx.spec.name}": params.prompt_length must be an integer in [1, ${total}], found ${prompt}`);
        }
        const logits = tf.tidy(() => {
          const o = eagerOps;
          const t = toTensors(host);
          const decoderInputIds = hostToTensor(decoderIds);
          const opts = { training: false };
          const enc = model.model.encode(o, t.input_ids, t.attention_mask, opts);
          const steps: tf.Tensor[] = [];
          let past: DecoderCache<tf.Tensor>[] | undefined;
          for (let start = 0; start < total; start = start === 0 ? prompt : start + 1) {
            const len = start === 0 ? prompt : 1;
            const ids = tf.slice(decoderInputIds, [0, start], [b, len]);
            const mask = t.decoder_attention_mask ? tf.slice(t.decoder_attention_mask, [0, 0], [b, start + len]) : undefined;
            const r = model.model.decode(o, ids, mask, enc.lastHiddenState, t.attention_mask, past, start, opts);
            steps.push(model.project(o, r.lastHiddenState));
            past = r.present;
          }
          return tf.concat(steps, 1);
        });
        const out = { logits: actual(logits, host.decoder_attention_mask) };
        logits.dispose();
        return out;
      },

      loss: async (ctx) => {
        const p = params(ctx);
        const model = modelFor(p);
        const out: Record<string, ActualOutput> = {};
        tf.tidy(() => {
          const batch: Record<string, tf.Tensor> = {};
          for (const k of ['input_ids', 'attention_mask', 'labels', 'decoder_input_ids', 'decoder_attention_mask']) {
            if (ctx.spec.inputs[k] !== undefined) batch[k] = hostToTensor(ctx.input(k));
          }
          const r = model.computeLoss(batch, {
            training: ctx.spec.mode === 'train',
            moeLoss: moeLossOf(p),
            outputRouterLogits: typeof p.output_router_logits === 'boolean' ? p.output_router_logits : undefined,
          });
          out.loss = actual(r.loss);
          for (const [k, v] of Object.entries(r.components)) out[k] = actual(v);
        });
        return out;
      },

      generate_greedy: async (ctx) => {
        const p = params(ctx);
        const model = modelFor(p);
        const c = model.config;
        const ids = hostToTensor(ctx.input('input_ids')) as tf.Tensor2D;
        const mask = ctx.spec.inputs.attention_mask !== undefined ? (hostToTensor(ctx.input('attention_mask')) as tf.Tensor2D) : undefined;
        const session = new NllbMoeSession(model, ids, mask);
        try {
          const base: GenerationDefaults = generationFile
            ? generationDefaults
            : { eosTokenId: c.eosTokenId, padTokenId: c.padTokenId, decoderStartTokenId: c.decoderStartTokenId, forcedBosTokenId: c.forcedBosTokenId ?? undefined };
          const lit = <V>(k: string): V | undefined => (p[k] === undefined || p[k] === null ? undefined : (p[k] as V));
          const opts = withDefaults<GenerationDefaults>(base, {
            maxNewTokens: lit<number>('max_new_tokens'),
            maxLength: lit<number>('max_length'),
            minNewTokens: lit<number>('min_new_tokens'),
            minLength: lit<number>('min_length'),
            repetitionPenalty: lit<number>('repetition_penalty'),
            noRepeatNgramSize: lit<number>('no_repeat_ngram_size'),
            forcedBosTokenId: lit<number>('forced_bos_token_id'),
            forcedEosTokenId: lit<number | number[]>('forced_eos_token_id'),
            eosTokenId: lit<number | number[]>('eos_token_id'),
            padTokenId: lit<number>('pad_token_id'),
            decoderStartTokenId: lit<number>('decoder_start_token_id'),
            doSample: false,
            numBeams: 1,
            numReturnSequences: 1,
          });
          const start = opts.decoderStartTokenId ?? c.decoderStartTokenId;
          delete opts.decoderStartTokenId;
          // HF's default length limit: max_length 20, the decoder start token included.
          if (opts.maxNewTokens === undefined && opts.maxLength === undefined) opts.maxLength = 20;
          const res = await generate(session, { inputIds: Array.from({ length: ids.shape[0] }, () => [start]) }, opts as GenerateOptions);
          const len = Math.max(...res.sequences.map((s) => s.length));
          const flat = res.sequences.flatMap((s) => [...s, ...new Array<number>(len - s.length).fill(opts.padTokenId ?? c.padTokenId)]);
          return { sequences: { data: flat, shape: [res.sequences.length, len] } };
        } finally {
          session.dispose();
          ids.dispose();
          mask?.dispose();
        }
      },

      grad: gradCase(freshForTraining, hfName),
      adamw_step: adamwStepCase(freshForTraining, hfName),

      dispose: () => {
        for (const m of models.values()) m.dispose();
      },
    };
  },
};
