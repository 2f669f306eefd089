/**
 * LoRA training step on the full model shapes, through the real Trainer (frozen base, adapters on
 * the four attention projections, gradient checkpointing, chunked tied-head loss):
 *  - XGLM-564M: 24 layers, d 1024, ffn 4096, 16 heads, vocab 256008;
 *  - NLLB-200-distilled-600M: 12+12 layers, d 1024, ffn 4096, 16 heads, vocab 256206 (built as a
 *    dense NLLB-MoE, i.e. no sparse layers: the same blocks and shapes as M2M-100).
 * Random weights and ids (speed and memory do not depend on them). Reports tokens/s, the
 * achieved FLOP/s over the backend's matmul rate (executed work = 3 x forward matmul flops: forward,
 * input gradients, and the recomputed forward of checkpointing; the frozen base has no weight
 * gradients), the wasm heap size after the run (wasm memory only grows: its high-water mark),
 * peak process RSS, and the memory plan (train/memory-plan.ts) beside it; plus the largest
 * full-fine-tune shape the plan admits in the 4 GiB heap.
 * Options: --model xglm|nllb|both --r 8,16 --batch B --seq T --steps N --layers L --vocab V.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf } from '../core/tf.js';
import { parseXGLMConfig } from '../models/xglm/config.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { withInitialValues } from '../layers/base.js';
import { parseNllbMoeConfig } from '../models/nllb-moe/config.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { Trainer } from '../train/trainer.js';
import { LoraModel } from '../train/lora/lora-model.js';
import { planTrainingMemory, formatMemoryPlan, WASM_HEAP_BYTES, type ShapeForMemory } from '../train/memory-plan.js';
import { asWasmBackend } from '../backend/wasm-backend.js';
import type { HostBatch } from '../train/batch.js';
import type { TrainableModel } from '../core/trainable.js';
import { lcgFill, randomIds, FixedBatches } from './train.js';
import { result, type Bench, type BenchContext, type BenchResult } from './common.js';

const opt = (ctx: BenchContext, key: string, dflt: number) => (typeof ctx.options[key] === 'string' ? Number(ctx.options[key]) : dflt);

const heapBytes = (): number => {
  try {
    return asWasmBackend(tf.backend()).wasm.HEAPU8.buffer.byteLength;
  } catch {
    return NaN;
  }
};
const gib = (b: number) => +(b / 1024 ** 3).toFixed(2);

async function loraSteps(model: TrainableModel, batch: HostBatch, r: number, steps: number): Promise<{ ms: number; trained: number }> {
  const lora = new LoraModel(model, { r, alpha: 2 * r, dropout: 0.05, targetModules: ['q_proj', 'k_proj', 'v_proj', 'out_proj'] }, 1);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-lora-'));
  const times: number[] = [];
  let last = performance.now();
  const trainer = new Trainer(lora, new FixedBatches(batch), {
    maxSteps: steps + 1, lr: 1e-4, weightDecay: 0, schedule: 'constant', warmupSteps: 0, gradAccum: 1, maxGradNorm: 1, seed: 0,
    evalEvery: 0, saveEvery: 0, keep: 1, outDir: out, plot: false, gradientCheckpointing: true,
  }, {
    onRecord: (rec) => {
      if (rec.type !== 'train') return;
      const now = performance.now();
      if ((rec.step as number) > 1) times.push(now - last);
      last = now;
    },
  });
  const trained = trainer.trainable.reduce((n, p) => n + p.variable.size, 0);
  try {
    await trainer.run();
  } finally {
    trainer.dispose();
    lora.detach();
    fs.rmSync(out, { recursive: true, force: true });
  }
  return { ms: Math.min(...times), trained };
}

function report(ctx: BenchContext, name: string, shape: ShapeForMemory, tokens: number, length: number, batch: number, fwdFlops: number, run: { ms: number; trained: number }): BenchResult {
  const plan = planTrainingMemory(shape, { batch, length, trained: run.trained, gradientCheckpointing: true, chunkedLogits: true });
  return result(ctx, name, {
    ms: run.ms, tokens, flops: 3 * fwdFlops,
    extra: {
      trainedParams: run.trained,
      wasmHeapGiB: gib(heapBytes()),
      peakRssGiB: gib(process.resourceUsage().maxRSS * 1024),
      tensorGiB: gib(tf.memory().numBytes),
      plan: formatMemoryPlan(plan),
    },
  });
}

async function xglm(ctx: BenchContext, rs: number[]): Promise<BenchResult[]> {
  const b = opt(ctx, 'batch', 4);
  const t = opt(ctx, 'seq', 128);
  const cfg = parseXGLMConfig({ d_model: 1024, ffn_dim: 4096, attention_heads: 16, num_layers: opt(ctx, 'layers', 24), vocab_size: opt(ctx, 'vocab', 256008), dropout: 0.1, attention_dropout: 0.1 });
  let seed = 1;
  const lm = withInitialValues((_n, shape) => (shape.length === 2 ? tf.tensor2d(lcgFill(shape[0] * shape[1], 0.035, seed++), [shape[0], shape[1]]) : undefined), () => new XGLMForCausalLM(cfg));
  const x = randomIds(b, t, cfg.vocabSize, 7);
  const batch: HostBatch = { arrays: { input_ids: { data: x, shape: [b, t] }, labels: { data: x.slice(), shape: [b, t] } }, tokens: b * t, targets: b * (t - 1) };
  const d = cfg.dModel;
  const fwd = cfg.numLayers * (2 * b * t * (4 * d * d + 2 * d * cfg.ffnDim) + 4 * b * t * t * d) + 2 * b * t * d * cfg.vocabSize;
  const parameters = lm.namedParameters().reduce((n, p) => n + p.variable.read().size, 0);
  const shape: ShapeForMemory = { encoderLayers: cfg.numLayers, decoderLayers: 0, crossAttention: false, dModel: d, ffnDim: cfg.ffnDim, heads: 16, vocab: cfg.vocabSize, parameters };
  const out: BenchResult[] = [];
  try {
    for (const r of rs) {
      const run = await loraSteps(lm, batch, r, opt(ctx, 'steps', 2));
      out.push(report(ctx, `lora step xglm L${cfg.numLayers} d1024 ffn4096 V${cfg.vocabSize} r${r} qkvo [${b}x${t}]`, shape, b * t, t, b, fwd, run));
      process.stdout.write(`  ${out[out.length - 1].name}: ${JSON.stringify(out[out.length - 1].extra)}\n`);
    }
  } finally {
    lm.dispose();
  }
  return out;
}

async function nllb(ctx: BenchContext, rs: number[]): Promise<BenchResult[]> {
  const b = opt(ctx, 'batch', 4);
  const t = opt(ctx, 'seq', 128);
  const layers = opt(ctx, 'layers', 12);
  const cfg = parseNllbMoeConfig({
    d_model: 1024, encoder_layers: layers, decoder_layers: layers, encoder_ffn_dim: 4096, decoder_ffn_dim: 4096,
    encoder_attention_heads: 16, decoder_attention_heads: 16, num_experts: 4, encoder_sparse_step: 0, decoder_sparse_step: 0,
    vocab_size: opt(ctx, 'vocab', 256206), encoder_layerdrop: 0, decoder_layerdrop: 0, dropout: 0.1, attention_dropout: 0.1,
  });
  let seed = 11;
  const model = withInitialValues((_n, shape) => (shape.length === 2 ? tf.tensor2d(lcgFill(shape[0] * shape[1], 0.035, seed++), [shape[0], shape[1]]) : undefined), () => new NllbMoeForConditionalGeneration(cfg));
  const src = randomIds(b, t, cfg.vocabSize, 3);
  const tgt = randomIds(b, t, cfg.vocabSize, 5);
  const batch: HostBatch = { arrays: { input_ids: { data: src, shape: [b, t] }, attention_mask: { data: new Int32Array(b * t).fill(1), shape: [b, t] }, labels: { data: tgt, shape: [b, t] } }, tokens: 2 * b * t, targets: b * t };
  const d = cfg.dModel;
  const n = b * t;
  const fwd = layers * (2 * n * 4 * d * d + 4 * n * t * d + 2 * n * 2 * d * 4096) + layers * (2 * 2 * n * 4 * d * d + 2 * 4 * n * t * d + 2 * n * 2 * d * 4096) + 2 * n * d * cfg.vocabSize;
  const parameters = model.namedParameters().reduce((acc, p) => acc + p.variable.read().size, 0) - (cfg.tieWordEmbeddings ? 0 : 0);
  const shape: ShapeForMemory = { encoderLayers: layers, decoderLayers: layers, crossAttention: true, dModel: d, ffnDim: 4096, heads: 16, vocab: cfg.vocabSize, parameters };
  const out: BenchResult[] = [];
  try {
    for (const r of rs) {
      const run = await loraSteps(model, batch, r, opt(ctx, 'steps', 2));
      out.push(report(ctx, `lora step nllb-200-600M shape ${layers}+${layers} d1024 ffn4096 V${cfg.vocabSize} r${r} qkvo [${b}x${t}+${b}x${t}]`, shape, 2 * n, t, b, fwd, run));
      process.stdout.write(`  ${out[out.length - 1].name}: ${JSON.stringify(out[out.length - 1].extra)}\n`);
    }
  } finally {
    model.dispose();
  }
  return out;
}

/** The largest XGLM-shaped full fine-tune (d 1024, ffn 4096, V 256008, batch x seq) the plan admits in the wasm heap. */
function largestFullFineTune(ctx: BenchContext): BenchResult {
  const b = opt(ctx, 'batch', 4);
  const t = opt(ctx, 'seq', 128);
  const d = 1024;
  const perLayer = 4 * (d * d + d) + 2 * d * 4096 + 4096 + d + 4 * d;
  let best = 0;
  for (let layers = 1; layers <= 48; layers++) {
    const parameters = 256008 * d + layers * perLayer + 2 * d;
    const plan = planTrainingMemory({ encoderLayers: layers, decoderLayers: 0, crossAttention: false, dModel: d, ffnDim: 4096, heads: 16, vocab: 256008, parameters }, { batch: b, length: t, trained: parameters, gradientCheckpointing: true, chunkedLogits: true });
    if (plan.total <= WASM_HEAP_BYTES) best = layers;
  }
  const parameters = 256008 * d + best * perLayer + 2 * d;
  return { name: `largest full fine-tune in 4 GiB (plan): xglm d1024 ffn4096 V256008 [${b}x${t}], gradient checkpointing`, backend: ctx.backend, extra: { layers: best, parametersM: +(parameters / 1e6).toFixed(0), bytesPerParameter: 16 } };
}

export const loraBench: Bench = {
  name: 'lora',
  description: 'LoRA training step (r 8/16, attention projections, frozen base, gradient checkpointing) on the full XGLM-564M and NLLB-200-600M shapes: tokens/s, ratio, wasm heap, RSS',
  async run(ctx) {
    const which = typeof ctx.options['model'] === 'string' ? ctx.options['model'] : 'both';
    const rs = (typeof ctx.options['r'] === 'string' ? ctx.options['r'] : '8,16').split(',').map(Number);
    const out: BenchResult[] = [largestFullFineTune(ctx)];
    process.stdout.write(`  ${out[0].name}: ${JSON.stringify(out[0].extra)}\n`);
    if (which !== 'nllb') out.push(...(await xglm(ctx, rs)));
    if (which !== 'xglm') out.push(...(await nllb(ctx, rs)));
    return out;
  },
};
