/**
 * Training-step speed through the real Trainer (forward + backward + clip + AdamW), random
 * weights and random token ids, for
 *  - an XGLM-564M-shaped model (d_model 1024, ffn 4096, 16 heads), and
 *  - an NLLB-MoE-shaped model (d_model 1024, 16 experts, sparse step 4, top-2 routing).
 * Reduced by default, because training state is 16 bytes per parameter (weights, gradients,
 * two AdamW moments) and the wasm heap stops at 4 GB: XGLM-564M would need ~9 GB, the
 * 12+12-layer NLLB-MoE (~1.2B parameters) ~20 GB -- and tfjs keeps every backward
 * temporary (e.g. transposed weight copies) until the whole backward pass ends, so the wasm heap
 * peaks far above the live tensors (measured: 2.3 GB heap for 0.7 GB of tensors, XGLM d1024
 * 4 layers, V 32000, 128 tokens; 4 layers then abort once the AdamW moments exist).
 * Defaults: XGLM 2 of 24 layers with a 32000-token vocabulary (of 256008), batch 2x128;
 * NLLB-MoE 4+4 layers (one sparse layer per side, as
 * sparse step 4 gives) with expert ffn 1024 (of 4096) and vocabulary 8000 (of 128112).
 * `--full-shape` asks for the real shapes (needs the tensorflow backend's memory).
 * Achieved FLOP/s = 3 x forward matmul flops (forward + two backward products per matmul;
 * MoE: two routed experts per token) / step time, divided by the backend's matmul rate.
 * An estimate for the full shapes assumes that achieved rate.
 * Options: --batch B --seq T --steps N --layers L --vocab V --experts E --expert-ffn F --full-shape.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { parseXGLMConfig, type XGLMConfig } from '../models/xglm/config.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { withInitialValues, type InitialValueProvider } from '../layers/base.js';
import { parseNllbMoeConfig, type NllbMoeConfig } from '../models/nllb-moe/config.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { Trainer } from '../train/trainer.js';
import type { BatchSource, HostBatch } from '../train/batch.js';
import type { TrainableModel } from '../core/trainable.js';
import { result, type Bench, type BenchContext, type BenchResult } from './common.js';

export function intOpt(ctx: BenchContext, key: string, dflt: number): number {
  const v = ctx.options[key];
  return typeof v === 'string' ? Number.parseInt(v, 10) : dflt;
}

export function lcgFill(n: number, half: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2147483648 - 1) * half;
  }
  return data;
}

/** The same batch every step (the data pipeline is not what is timed). */
export class FixedBatches implements BatchSource {
  epoch = 0;
  constructor(private readonly batch: HostBatch) {}
  next(): HostBatch {
    return this.batch;
  }
  state(): unknown {
    return {};
  }
  restore(): void {}
}

export function randomIds(b: number, t: number, vocab: number, seed: number): Int32Array {
  const out = new Int32Array(b * t);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = 3 + (s % (vocab - 3));
  }
  return out;
}

/** Times `steps` optimizer steps after one warm-up step; returns ms per step (best and mean). */
export async function timeSteps(model: TrainableModel, batch: HostBatch, steps: number): Promise<{ best: number; mean: number }> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-'));
  const times: number[] = [];
  let last = performance.now();
  const trainer = new Trainer(model, new FixedBatches(batch), {
    maxSteps: steps + 1, lr: 1e-4, weightDecay: 0.01, schedule: 'constant', warmupSteps: 0, gradAccum: 1, maxGradNorm: 1, seed: 0,
    evalEvery: 0, saveEvery: 0, keep: 1, outDir: out, plot: false,
  }, {
    onRecord: (r) => {
      if (r.type !== 'train') return;
      const now = performance.now();
      if ((r.step as number) > 1) times.push(now - last);
      last = now;
    },
  });
  try {
    await trainer.run();
  } finally {
    trainer.dispose();
    fs.rmSync(out, { recursive: true, force: true });
  }
  return { best: Math.min(...times), mean: times.reduce((a, b) => a + b, 0) / times.length };
}

function xglmForwardFlops(c: XGLMConfig, b: number, t: number): number {
  const d = c.dModel;
  const perLayer = 2 * b * t * (4 * d * d + 2 * d * c.ffnDim) + 4 * b * t * t * d;
  return c.numLayers * perLayer + 2 * b * t * d * c.vocabSize;
}

function nllbForwardFlops(c: NllbMoeConfig, b: number, t: number): number {
  const d = c.dModel;
  const n = b * t;
  const ffn = (ffnDim: number, sparse: boolean) => (sparse ? 2 : 1) * 2 * n * 2 * d * ffnDim + (sparse ? 2 * n * d * c.numExperts : 0);
  let f = 0;
  for (let i = 0; i < c.encoderLayers; i++) f += 2 * n * 4 * d * d + 4 * b * t * t * d + ffn(c.encoderFfnDim, c.encoderSparseStep > 0 && (i + 1) % c.encoderSparseStep === 0);
  for (let i = 0; i < c.decoderLayers; i++) f += 2 * 2 * n * 4 * d * d + 2 * 4 * b * t * t * d + ffn(c.decoderFfnDim, c.decoderSparseStep > 0 && (i + 1) % c.decoderSparseStep === 0);
  return f + 2 * n * d * c.vocabSize;
}

async function xglmTrain(ctx: BenchContext): Promise<BenchResult> {
  const full = ctx.options['full-shape'] === true;
  const b = intOpt(ctx, 'batch', 2);
  const t = intOpt(ctx, 'seq', ctx.quick ? 32 : 128);
  const cfg = parseXGLMConfig({
    d_model: 1024, ffn_dim: 4096, attention_heads: 16,
    num_layers: intOpt(ctx, 'layers', full ? 24 : ctx.quick ? 1 : 2),
    vocab_size: intOpt(ctx, 'vocab', full ? 256008 : 32000),
    dropout: 0.1, attention_dropout: 0.1,
  });
  let seed = 1;
  const lm = withInitialValues((_name, shape) => (shape.length === 2 ? tf.tensor2d(lcgFill(shape[0] * shape[1], 0.02 * Math.sqrt(3), seed++), [shape[0], shape[1]]) : undefined), () => new XGLMForCausalLM(cfg));
  const ids = randomIds(b, t, cfg.vocabSize, 7);
  const batch: HostBatch = { arrays: { input_ids: { data: ids, shape: [b, t] }, labels: { data: ids.slice(), shape: [b, t] } }, tokens: b * t, targets: b * (t - 1) };
  try {
    const ms = await timeSteps(lm, batch, intOpt(ctx, 'steps', ctx.quick ? 2 : 3));
    const flops = 3 * xglmForwardFlops(cfg, b, t);
    const fullCfg = { ...cfg, numLayers: 24, vocabSize: 256008 };
    const fullMs = (ms.best * (3 * xglmForwardFlops(fullCfg, b, t))) / flops;
    return result(ctx, `train step xglm d1024 L${cfg.numLayers} ffn4096 V${cfg.vocabSize} [${b}x${t}]`, {
      ms: ms.best, tokens: b * t, flops,
      extra: { meanMs: +ms.mean.toFixed(0), reduced: !full, estFullShapeTokensPerSec: +((b * t * 1000) / fullMs).toFixed(1) },
    });
  } finally {
    lm.dispose();
  }
}

async function nllbTrain(ctx: BenchContext): Promise<BenchResult> {
  const full = ctx.options['full-shape'] === true;
  const b = intOpt(ctx, 'batch', 2);
  const t = intOpt(ctx, 'seq', ctx.quick ? 16 : 64);
  const layers = intOpt(ctx, 'layers', full ? 12 : 4);
  const ffn = intOpt(ctx, 'expert-ffn', full ? 4096 : 1024);
  const cfg = parseNllbMoeConfig({
    d_model: 1024, encoder_layers: layers, decoder_layers: layers, encoder_ffn_dim: ffn, decoder_ffn_dim: ffn,
    encoder_attention_heads: 16, decoder_attention_heads: 16, num_experts: intOpt(ctx, 'experts', 16),
    encoder_sparse_step: 4, decoder_sparse_step: 4, expert_capacity: null,
    vocab_size: intOpt(ctx, 'vocab', full ? 128112 : 8000),
    encoder_layerdrop: 0, decoder_layerdrop: 0,
  });
  let seed = 11;
  const init: InitialValueProvider = (name, shape) =>
    shape.length === 2 ? tf.tensor2d(lcgFill(shape[0] * shape[1], (name.includes('router') ? 1 : 0.02) * Math.sqrt(3), seed++), [shape[0], shape[1]]) : undefined;
  const model = withInitialValues(init, () => new NllbMoeForConditionalGeneration(cfg));
  const src = randomIds(b, t, cfg.vocabSize, 3);
  const tgt = randomIds(b, t, cfg.vocabSize, 5);
  const batch: HostBatch = { arrays: { input_ids: { data: src, shape: [b, t] }, attention_mask: { data: new Int32Array(b * t).fill(1), shape: [b, t] }, labels: { data: tgt, shape: [b, t] } }, tokens: 2 * b * t, targets: b * t };
  try {
    const ms = await timeSteps(model, batch, intOpt(ctx, 'steps', ctx.quick ? 2 : 3));
    const flops = 3 * nllbForwardFlops(cfg, b, t);
    const fullCfg = { ...cfg, encoderLayers: 12, decoderLayers: 12, encoderFfnDim: 4096, decoderFfnDim: 4096, vocabSize: 128112 };
    const fullMs = (ms.best * (3 * nllbForwardFlops(fullCfg, b, t))) / flops;
    return result(ctx, `train step nllb-moe d1024 ${layers}+${layers} E${cfg.numExperts} step4 ffn${ffn} V${cfg.vocabSize} [${b}x${t}+${b}x${t}]`, {
      ms: ms.best, tokens: 2 * b * t, flops,
      extra: { meanMs: +ms.mean.toFixed(0), reduced: !full, estFullShapeTokensPerSec: +((2 * b * t * 1000) / fullMs).toFixed(1) },
    });
  } finally {
    model.dispose();
  }
}

export const trainBench: Bench = {
  name: 'train',
  description: 'training-step tokens/s and FLOP/s ratio: XGLM-564M-shaped and NLLB-MoE-shaped (reduced to fit the wasm heap unless --full-shape)',
  async run(ctx) {
    const which = typeof ctx.options['model'] === 'string' ? ctx.options['model'] : 'both';
    const out: BenchResult[] = [];
    if (which !== 'nllb-moe') out.push(await xglmTrain(ctx));
    if (which !== 'xglm') out.push(await nllbTrain(ctx));
    return out;
  },
};
