/**
 * Models beyond the wasm heap (issue 14 "Done means"): random-weight checkpoints of real shapes,
 * written as BF16 (or F32, `--dtype f32`) safetensors to a temp folder (streamed,
 * bench/random-checkpoint.ts), loaded through the library's loader with `--weights int8`
 * (default; `--weights` to change) and timed in a child process each (bench/big-child.ts), which
 * also gives each shape's own peak RSS:
 *  - xglm-1.7b: XGLM-1.7B (d_model 2048, 24 layers, ffn 8192, 16 heads, vocab 256008);
 *  - nllb-3.3b: NLLB-200-3.3B (d_model 2048, 24 + 24 layers, ffn 8192, 16 heads, vocab 256206),
 *    as a dense NLLB-MoE config (the same blocks as M2M-100);
 *  - nllb-moe-128: NLLB-MoE with 128 experts in every 4th layer (d_model 768, 12 + 12 layers,
 *    ffn 3072, vocab 256206; 3.6B parameters), under `--max-memory` (default 2 GB) below its
 *    weight size: experts read from the checkpoint on demand (layers/moe/expert-store.ts).
 * Options: --shapes a,b (default all three) --dtype bf16|f32 --weights P[,P...] (each in its own
 *          child, e.g. int8,bfloat16: a bf16 checkpoint with --weights bfloat16 loads as stored) --max-memory GB
 *          --prompt T (default 128; NLLB: source length) --new N (default 16) --dir D (write
 *          there and keep it; an existing checkpoint in D is reused).
 * Needs free disk: about 3.4 + 6.6 + 7.2 GB in bf16 (checked before writing).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseXGLMConfig } from '../models/xglm/config.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { parseNllbMoeConfig } from '../models/nllb-moe/config.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { formatExpertCacheStats } from '../layers/moe/expert-store.js';
import type { NamedParameter } from '../core/trainable.js';
import { realTensors, TINY_DIMS, writeRandomCheckpoint, type RealDims } from './random-checkpoint.js';
import { result, type Bench, type BenchContext, type BenchResult } from './common.js';
import type { BigChildResult, BigChildTask } from './big-child.js';

interface Shape {
  name: string;
  kind: 'xglm' | 'nllb';
  config: Record<string, unknown>;
  dims: RealDims;
  /** Tiny config with the same layers / experts (for the tensor names). */
  tiny: Record<string, unknown>;
  maxMemoryGB?: number;
}

const SHAPES: Shape[] = [
  {
    name: 'xglm-1.7b',
    kind: 'xglm',
    config: { model_type: 'xglm', d_model: 2048, num_layers: 24, ffn_dim: 8192, attention_heads: 16, vocab_size: 256008, max_position_embeddings: 2048, dropout: 0, attention_dropout: 0, activation_dropout: 0 },
    dims: { d: 2048, ffn: 8192, vocab: 256008 },
    tiny: { num_layers: 24, attention_heads: 2 },
  },
  {
    name: 'nllb-3.3b',
    kind: 'nllb',
    config: nllbConfig({ d_model: 2048, layers: 24, ffn: 8192, heads: 16, experts: 4, step: 0 }),
    dims: { d: 2048, ffn: 8192, vocab: 256206 },
    tiny: { encoder_layers: 24, decoder_layers: 24, encoder_sparse_step: 0, decoder_sparse_step: 0, num_experts: 4 },
  },
  {
    name: 'nllb-moe-128',
    kind: 'nllb',
    config: nllbConfig({ d_model: 768, layers: 12, ffn: 3072, heads: 12, experts: 128, step: 4 }),
    dims: { d: 768, ffn: 3072, vocab: 256206 },
    tiny: { encoder_layers: 12, decoder_layers: 12, encoder_sparse_step: 4, decoder_sparse_step: 4, num_experts: 128 },
    maxMemoryGB: 2,
  },
];

function nllbConfig(s: { d_model: number; layers: number; ffn: number; heads: number; experts: number; step: number }): Record<string, unknown> {
  return {
    model_type: 'nllb-moe',
    d_model: s.d_model,
    encoder_layers: s.layers,
    decoder_layers: s.layers,
    encoder_ffn_dim: s.ffn,
    decoder_ffn_dim: s.ffn,
    encoder_attention_heads: s.heads,
    decoder_attention_heads: s.heads,
    num_experts: s.experts,
    encoder_sparse_step: s.step,
    decoder_sparse_step: s.step,
    vocab_size: 256206,
    max_position_embeddings: 1024,
    dropout: 0,
    attention_dropout: 0,
    activation_dropout: 0,
    moe_eval_capacity_token_fraction: 1.0,
    scale_embedding: true,
  };
}

function tinyParams(shape: Shape): { params: NamedParameter[]; dispose: () => void } {
  const dims = { d_model: TINY_DIMS.d, vocab_size: TINY_DIMS.vocab };
  if (shape.kind === 'xglm') {
    const m = new XGLMForCausalLM(parseXGLMConfig({ ...dims, ffn_dim: TINY_DIMS.ffn, ...shape.tiny }, 'tiny'));
    return { params: m.namedParameters(), dispose: () => m.dispose() };
  }
  const cfg = { ...dims, encoder_ffn_dim: TINY_DIMS.ffn, decoder_ffn_dim: TINY_DIMS.ffn, encoder_attention_heads: 2, decoder_attention_heads: 2, ...shape.tiny };
  const m = new NllbMoeForConditionalGeneration(parseNllbMoeConfig(cfg, 'tiny'));
  return { params: m.namedParameters(), dispose: () => m.dispose() };
}

function freeDiskBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Matmul flops of one decoded token (weights x 2, attention over ~prompt keys ignored) and of the prompt forward. */
function flopsOf(linearParams: number, d: number, vocab: number): { perToken: number } {
  return { perToken: 2 * linearParams + 2 * d * vocab };
}

async function runShape(ctx: BenchContext, shape: Shape, root: string, weights: string): Promise<BenchResult[]> {
  const dtype = ctx.options['dtype'] === 'f32' ? 'F32' : 'BF16';
  const dir = path.join(root, `${shape.name}-${dtype.toLowerCase()}`);
  const tiny = tinyParams(shape);
  const tensors = realTensors(tiny.params, shape.dims);
  tiny.dispose();
  const count = tensors.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const fileBytes = count * (dtype === 'BF16' ? 2 : 4);
  let writeSeconds = 0;
  if (!fs.existsSync(path.join(dir, 'model.safetensors'))) {
    fs.mkdirSync(root, { recursive: true });
    const free = freeDiskBytes(root);
    if (free < fileBytes * 1.05) {
      return [{ name: `${shape.name}: skipped`, backend: ctx.backend, extra: { reason: `needs ${(fileBytes / 1e9).toFixed(1)} GB of disk in ${root}, ${(free / 1e9).toFixed(1)} GB free` } }];
    }
    const t0 = performance.now();
    writeRandomCheckpoint(dir, shape.config, tensors, dtype);
    writeSeconds = (performance.now() - t0) / 1000;
  }
  const maxMemoryGB = typeof ctx.options['max-memory'] === 'string' ? Number(ctx.options['max-memory']) : shape.maxMemoryGB;
  const prompt = typeof ctx.options['prompt'] === 'string' ? Number(ctx.options['prompt']) : ctx.quick ? 16 : 128;
  const newTokens = typeof ctx.options['new'] === 'string' ? Number(ctx.options['new']) : ctx.quick ? 4 : 16;
  const task: BigChildTask = { kind: shape.kind, dir, weights: weights as BigChildTask['weights'], maxMemoryGB, prompt, newTokens };
  const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'big-child.js');
  const run = spawnSync(process.execPath, [child, JSON.stringify(task)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const line = run.stdout.trim().split('\n').pop() ?? '';
  let r: BigChildResult;
  try {
    r = JSON.parse(line) as BigChildResult;
  } catch {
    r = { ok: false, error: `child exited ${run.status ?? run.signal}: ${(run.stderr || line).trim().split('\n').slice(-1)[0]}`, peakRssGB: NaN, native: '' };
  }
  const label = `${shape.name} (${(count / 1e9).toFixed(2)}B params, ${dtype} checkpoint ${(fileBytes / 1e9).toFixed(1)} GB, --weights ${weights}${maxMemoryGB !== undefined ? `, --max-memory ${maxMemoryGB}` : ''})`;
  const extra: Record<string, number | string | boolean> = {
    params: count,
    checkpointGB: +(fileBytes / 1e9).toFixed(2),
    writeSeconds: +writeSeconds.toFixed(1),
    peakRssGB: +r.peakRssGB.toFixed(2),
  };
  if (r.wasmHeapGB !== undefined) extra.wasmHeapGB = +r.wasmHeapGB.toFixed(2);
  if (r.nativeWeightsGB !== undefined) extra.nativeWeightsGB = +r.nativeWeightsGB.toFixed(2);
  if (r.loadSeconds !== undefined) extra.loadSeconds = +r.loadSeconds.toFixed(1);
  if (!r.ok) return [{ name: `${label}: load/generate failed`, backend: ctx.backend, extra: { ...extra, error: r.error ?? 'unknown' } }];
  if (r.expertCache) {
    const s = r.expertCache;
    extra.expertHits = s.layers.reduce((a, l) => a + l.hits, 0);
    extra.expertMisses = s.layers.reduce((a, l) => a + l.misses, 0);
    extra.expertPeakGB = +(s.peakResidentBytes / 1e9).toFixed(3);
    extra.allExpertsGB = +(s.allExpertBytes / 1e9).toFixed(2);
    extra.denseGB = +(s.denseBytes / 1e9).toFixed(2);
    console.log(formatExpertCacheStats(s));
  }
  // Linear parameters: everything 2-D but the embedding (counted as the lm_head) and routers; MoE: 2 experts per sparse layer per token.
  const d = shape.dims.d;
  let linear = 0;
  for (const t of tensors) {
    if (t.shape.length !== 2 || t.name.endsWith('shared.weight') || t.name.endsWith('embed_tokens.weight') || t.name.includes('router')) continue;
    const m = /experts\.expert_(\d+)\./.exec(t.name);
    if (m && Number(m[1]) >= 2) continue;
    linear += t.shape[0] * t.shape[1];
  }
  const enc = shape.kind === 'nllb' ? tensors.filter((t) => t.name.startsWith('model.encoder.') && t.shape.length === 2 && !t.name.includes('router') && !/experts\.expert_([2-9]|\d\d+)\./.test(t.name)).reduce((a, t) => a + t.shape[0] * t.shape[1], 0) : 0;
  const { perToken } = flopsOf(linear - enc, d, shape.dims.vocab);
  const promptFlops = shape.kind === 'xglm' ? prompt * (2 * linear + 2 * d * shape.dims.vocab) : prompt * 2 * enc;
  return [
    result(ctx, `${shape.name} ${shape.kind === 'xglm' ? `forward [1x${prompt}]` : `encode [1x${prompt}]`} ${label}`, { ms: r.forwardMs!, tokens: prompt, flops: promptFlops, extra }),
    result(ctx, `${shape.name} greedy decode batch 1, ${r.decodedTokens} tokens ${label}`, { ms: r.decodeMsPerToken!, tokens: 1, flops: perToken, extra }),
  ];
}

export const bigBench: Bench = {
  name: 'big',
  description: 'XGLM-1.7B / NLLB-200-3.3B shapes from random bf16 checkpoints with --weights int8, NLLB-MoE 128 experts under --max-memory: tokens/s, peak RSS (writes GBs to the temp dir)',
  onlyByName: true,
  async run(ctx) {
    const wanted = typeof ctx.options['shapes'] === 'string' ? ctx.options['shapes'].split(',') : SHAPES.map((s) => s.name);
    const unknown = wanted.filter((w) => !SHAPES.some((s) => s.name === w));
    if (unknown.length > 0) throw new Error(`--shapes: unknown ${unknown.join(', ')}; expected ${SHAPES.map((s) => s.name).join(', ')}`);
    const given = typeof ctx.options['dir'] === 'string' ? ctx.options['dir'] : undefined;
    const root = given ?? fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-big-'));
    const out: BenchResult[] = [];
    try {
      for (const s of SHAPES.filter((x) => wanted.includes(x.name))) {
        // --weights a,b: one child process each, on the same checkpoint (e.g. int8,bfloat16).
        const list = typeof ctx.options['weights'] === 'string' ? ctx.options['weights'].split(',') : ['int8'];
        for (const w of list) {
          const rs = await runShape(ctx, s, root, w);
          for (const r of rs) {
            console.log(`  ${r.name}: ${JSON.stringify(r.extra)}`);
            out.push(r);
          }
        }
        if (given === undefined) fs.rmSync(path.join(root, `${s.name}-${ctx.options['dtype'] === 'f32' ? 'f32' : 'bf16'}`), { recursive: true, force: true });
      }
    } finally {
      if (given === undefined) fs.rmSync(root, { recursive: true, force: true });
    }
    return out;
  },
};
