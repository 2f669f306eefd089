/**
 * Dense NLLB-200-distilled-600M shape (m2m_100: d_model 1024, 12 + 12 layers, ffn 4096, 16 heads,
 * vocab 256206), random weights:
 *  - translation: greedy decoding with the KV-cache session, batch 1 and 4, 32 source tokens and
 *    exactly 32 new tokens (eos suppressed), new tokens/s;
 *  - one training step (forward + backward + AdamW): the full shape does not fit the wasm heap
 *    (printed plan below), so the step runs on the same widths with fewer layers and a smaller
 *    vocabulary (--train-layers, --train-vocab) and the full-shape rate is extrapolated by FLOPs.
 * Options: --layers N (translation depth, default 12), --vocab V, --skip-translate, --skip-train.
 */
import { tf } from '../core/tf.js';
import { withInitialValues } from '../layers/base.js';
import type { NllbMoeConfig } from '../models/nllb-moe/config.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { m2m100Format } from '../models/nllb-moe/m2m100-format.js';
import { generate } from '../generation/generate.js';
import type { HostBatch } from '../train/batch.js';
import { intOpt, lcgFill, randomIds, timeSteps } from './train.js';
import { result, type Bench, type BenchContext, type BenchResult } from './common.js';

const NLLB_600M = { d_model: 1024, encoder_layers: 12, decoder_layers: 12, encoder_ffn_dim: 4096, decoder_ffn_dim: 4096, encoder_attention_heads: 16, decoder_attention_heads: 16, vocab_size: 256206, max_position_embeddings: 1024, scale_embedding: true };

/** A model with uniform random matrices of std 0.02, each created once as its variable's initial value (no zeros first). */
function randomModel(json: Record<string, unknown>): NllbMoeForConditionalGeneration {
  let seed = 1;
  const config = m2m100Format.parseConfig({ ...json, dropout: 0, attention_dropout: 0, encoder_layerdrop: 0, decoder_layerdrop: 0 }, 'bench config');
  return withInitialValues(
    (_name, shape) => (shape.length === 2 ? tf.tensor2d(lcgFill(shape[0] * shape[1], 0.02 * Math.sqrt(3), seed++), [shape[0], shape[1]]) : undefined),
    () => new NllbMoeForConditionalGeneration(config),
  );
}

function parameterCount(c: NllbMoeConfig): number {
  const d = c.dModel;
  const attn = 4 * (d * d + d) + 2 * d;
  const ffn = (f: number) => 2 * d * f + f + d + 2 * d;
  return c.vocabSize * d + c.encoderLayers * (attn + ffn(c.encoderFfnDim)) + c.decoderLayers * (2 * attn + ffn(c.decoderFfnDim)) + 4 * d;
}

/** Matmul FLOPs of a forward over b x s source and b x t decoder tokens (decoder attention over `past` cached keys). */
function forwardFlops(c: NllbMoeConfig, b: number, s: number, t: number, past = 0): number {
  const d = c.dModel;
  const enc = s === 0 ? 0 : c.encoderLayers * (2 * b * s * (4 * d * d + 2 * d * c.encoderFfnDim) + 4 * b * s * s * d);
  const dec = c.decoderLayers * (2 * b * t * (6 * d * d + 2 * d * c.decoderFfnDim) + 4 * b * t * (past + t) * d + 4 * b * t * s * d) + 2 * b * t * d * c.vocabSize;
  return enc + dec;
}

async function translateRun(ctx: BenchContext, model: NllbMoeForConditionalGeneration, b: number): Promise<BenchResult> {
  const c = model.config;
  const S = 32;
  const N = 32;
  const ids = tf.tensor2d(randomIds(b, S, c.vocabSize, 3 + b), [b, S], 'int32');
  const run = async () => {
    const session = new NllbMoeSession(model, ids);
    try {
      await generate(session, { inputIds: Array.from({ length: b }, () => [c.decoderStartTokenId]) }, { maxNewTokens: N, minNewTokens: N, eosTokenId: c.eosTokenId, padTokenId: c.padTokenId });
    } finally {
      session.dispose();
    }
  };
  await run(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < (ctx.quick ? 1 : 2); i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  ids.dispose();
  const ms = Math.min(...times);
  let flops = forwardFlops(c, b, S, 1);
  for (let p = 1; p < N; p++) flops += forwardFlops(c, b, 0, 1, p) + c.decoderLayers * 4 * b * S * c.dModel;
  return result(ctx, `translate greedy m2m_100 d${c.dModel} ${c.encoderLayers}+${c.decoderLayers} ffn${c.decoderFfnDim} V${c.vocabSize} batch ${b} [${S} src + ${N} new]`, {
    ms, tokens: b * N, flops, extra: { meanMs: +(times.reduce((a, x) => a + x, 0) / times.length).toFixed(0) },
  });
}

async function trainRun(ctx: BenchContext): Promise<BenchResult> {
  const layers = intOpt(ctx, 'train-layers', 2);
  const vocab = intOpt(ctx, 'train-vocab', 32000);
  const b = intOpt(ctx, 'batch', 4);
  const t = 32;
  const model = randomModel({ ...NLLB_600M, encoder_layers: layers, decoder_layers: layers, vocab_size: vocab });
  const c = model.config;
  const src = randomIds(b, t, vocab, 5);
  const tgt = randomIds(b, t, vocab, 7);
  const batch: HostBatch = { arrays: { input_ids: { data: src, shape: [b, t] }, attention_mask: { data: new Int32Array(b * t).fill(1), shape: [b, t] }, labels: { data: tgt, shape: [b, t] } }, tokens: 2 * b * t, targets: b * t };
  let ms: number;
  try {
    ms = (await timeSteps(model, batch, ctx.quick ? 2 : 3)).best;
  } finally {
    model.dispose();
  }
  const flops = 3 * forwardFlops(c, b, t, t);
  const full = m2m100Format.parseConfig(NLLB_600M, 'bench config');
  const fullMs = (ms * 3 * forwardFlops(full, b, t, t)) / flops;
  return result(ctx, `train step m2m_100 d1024 ${layers}+${layers} ffn4096 V${vocab} [${b}x${t} src + ${b}x${t} tgt]`, {
    ms, tokens: 2 * b * t, flops,
    extra: { reduced: true, estFullShapeTokensPerSec: +((2 * b * t * 1000) / fullMs).toFixed(1) },
  });
}

/** Bytes of full fine-tuning with AdamW in float32: weights, gradients, two moments (activations extra). */
export function fullFineTuneBytes(c: NllbMoeConfig): { parameters: number; weights: number; adamw: number } {
  const p = parameterCount(c);
  return { parameters: p, weights: 4 * p, adamw: 16 * p };
}

export const m2m100Bench: Bench = {
  name: 'm2m100',
  description: 'NLLB-200-distilled-600M shape (m2m_100): greedy translation tokens/s (batch 1, 4; 32 src + 32 new) and a training step (reduced depth/vocab, extrapolated)',
  async run(ctx) {
    const out: BenchResult[] = [];
    const full = m2m100Format.parseConfig(NLLB_600M, 'bench config');
    const plan = fullFineTuneBytes(full);
    const gb = (x: number) => (x / 2 ** 30).toFixed(2);
    console.log(
      `nllb-200-distilled-600M shape: ${(plan.parameters / 1e6).toFixed(1)}M parameters; float32 weights ${gb(plan.weights)} GiB; ` +
        `full fine-tuning with AdamW (weights + grads + 2 moments) ${gb(plan.adamw)} GiB before activations; wasm32 heap limit 4 GiB`,
    );
    if (ctx.options['skip-translate'] !== true) {
      const model = randomModel({ ...NLLB_600M, encoder_layers: intOpt(ctx, 'layers', 12), decoder_layers: intOpt(ctx, 'layers', 12), vocab_size: intOpt(ctx, 'vocab', 256206) });
      try {
        for (const b of [1, 4]) out.push(await translateRun(ctx, model, b));
      } finally {
        model.dispose();
      }
    }
    if (ctx.options['skip-train'] !== true) out.push(await trainRun(ctx));
    return out;
  },
};
