/**
 * ONNX Runtime beside our path, in one run (issue 14's comparison table): an XGLM-shaped ONNX
 * model (bench/onnx-xglm.ts; default the XGLM-564M shape, random weights) in float32 and in
 * int8 ("q8": DynamicQuantizeLinear + MatMulInteger), run by `onnxruntime-node` on the CPU
 * execution provider with --threads (default 2) intra-op threads: forward [1 x prompt] and greedy
 * decoding with the KV cache, tokens/s; then bench/xglm.ts on the same shape with --weights
 * float32 and int8 (the native path when the addon is active).
 * `onnxruntime-node` is not a dependency: install it for a measurement with
 *   npm install --no-save --ignore-scripts onnxruntime-node
 * (the package ships the linux-x64 library); without it this bench reports "skipped".
 * Options: as bench/xglm.ts (--layers --d --ffn --heads --vocab --prompt --new), --threads N,
 * --ort-only (skip our path).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseXGLMConfig } from '../models/xglm/config.js';
import { writeXglmOnnx, type XglmOnnxShape } from './onnx-xglm.js';
import { flopsFor, xglmBench } from './xglm.js';
import { result, type Bench, type BenchContext, type BenchResult } from './common.js';

/** The part of onnxruntime-node's API used here. */
interface OrtTensor {
  data: Float32Array | BigInt64Array;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  Tensor: new (type: string, data: Float32Array | BigInt64Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(path: string, opts: Record<string, unknown>): Promise<OrtSession> };
}

async function loadOrt(): Promise<Ort | undefined> {
  const name = 'onnxruntime-node'; // a variable: tsc builds without the package
  try {
    const m = (await import(name)) as Ort & { default?: Ort };
    return m.InferenceSession ? m : m.default;
  } catch {
    return undefined;
  }
}

function intOpt(ctx: BenchContext, key: string, dflt: number): number {
  const v = ctx.options[key];
  return typeof v === 'string' ? Number.parseInt(v, 10) : dflt;
}

function rssGB(): number {
  return +(process.memoryUsage().rss / 1e9).toFixed(2);
}

async function runOrt(ctx: BenchContext, ort: Ort, file: string, s: XglmOnnxShape, precision: string, prompt: number, newTokens: number): Promise<BenchResult[]> {
  const threads = intOpt(ctx, 'threads', 2);
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const loadSeconds = (performance.now() - t0) / 1000;
  const H = s.heads;
  const dh = s.d / H;
  const cfg = parseXGLMConfig({ d_model: s.d, num_layers: s.layers, ffn_dim: s.ffn, attention_heads: H, vocab_size: s.vocab });
  const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, H, 0, dh]);
  const feeds = (ids: number[], past: number, kv: OrtTensor[] | undefined): Record<string, OrtTensor> => {
    const t = ids.length;
    const f: Record<string, OrtTensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, t]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(past + i + 2))), [1, t]),
    };
    const bias = new Float32Array(t * (past + t));
    for (let i = 0; i < t; i++) for (let j = past + i + 1; j < past + t; j++) bias[i * (past + t) + j] = -1e9;
    f.attn_bias = new ort.Tensor('float32', bias, [1, 1, t, past + t]);
    for (let l = 0; l < s.layers; l++) {
      f[`past_key_${l}`] = kv ? kv[2 * l] : empty();
      f[`past_value_${l}`] = kv ? kv[2 * l + 1] : empty();
    }
    return f;
  };
  const present = (out: Record<string, OrtTensor>) => Array.from({ length: s.layers }, (_, l) => [out[`present_key_${l}`], out[`present_value_${l}`]]).flat();
  const ids = Array.from({ length: prompt }, (_, i) => 3 + ((i * 7919) % (s.vocab - 3)));
  const label = `d${s.d} L${s.layers} ffn${s.ffn} V${s.vocab}, ${threads} threads`;
  try {
    await session.run(feeds(ids, 0, undefined)); // warm-up
    const reps = ctx.quick ? 1 : 2;
    const t1 = performance.now();
    for (let r = 0; r < reps; r++) await session.run(feeds(ids, 0, undefined));
    const fwdMs = (performance.now() - t1) / reps;
    const out: BenchResult[] = [result(ctx, `ORT ${precision} xglm forward [1x${prompt}] ${label}`, { ms: fwdMs, tokens: prompt, flops: flopsFor(cfg, prompt, 0, prompt), extra: { loadSeconds: +loadSeconds.toFixed(1), rssGB: rssGB() } })];
    // greedy: an 8-token prompt, then one token a step from the cache
    const p = ids.slice(0, 8);
    const argmaxLast = (logits: OrtTensor): number => {
      const data = logits.data as Float32Array;
      const V = s.vocab;
      const base = data.length - V;
      let best = 0;
      for (let j = 1; j < V; j++) if (data[base + j] > data[base + best]) best = j;
      return best;
    };
    const decode = async (): Promise<number> => {
      let res = await session.run(feeds(p, 0, undefined));
      let past = p.length;
      const t = performance.now();
      for (let step = 0; step < newTokens; step++) {
        const next = argmaxLast(res.logits);
        res = await session.run(feeds([next], past, present(res)));
        past++;
      }
      return (performance.now() - t) / newTokens;
    };
    // Best of --rounds decodes (default 3), as bench/xglm.ts measures ours.
    let stepMs = await decode();
    for (let r = 1; r < Math.max(1, intOpt(ctx, 'rounds', 3)); r++) stepMs = Math.min(stepMs, await decode());
    out.push(result(ctx, `ORT ${precision} xglm greedy decode (KV cache, batch 1) ${label}`, { ms: stepMs, tokens: 1, flops: flopsFor(cfg, 1, 8 + newTokens / 2, 1), extra: { newTokens, rssGB: rssGB() } }));
    return out;
  } finally {
    await session.release();
  }
}

export const ortBench: Bench = {
  name: 'ort',
  description: 'ONNX Runtime (onnxruntime-node, if installed) float32 / int8 XGLM forward and greedy decode beside ours, one run',
  onlyByName: true,
  async run(ctx) {
    const ort = await loadOrt();
    if (!ort) return [{ name: 'ort: skipped (onnxruntime-node is not installed; npm install --no-save --ignore-scripts onnxruntime-node)', backend: ctx.backend }];
    const quick = ctx.quick;
    const s: XglmOnnxShape = {
      d: intOpt(ctx, 'd', 1024),
      layers: intOpt(ctx, 'layers', quick ? 4 : 24),
      ffn: intOpt(ctx, 'ffn', 4096),
      heads: intOpt(ctx, 'heads', 16),
      vocab: intOpt(ctx, 'vocab', quick ? 32000 : 256008),
      maxPositions: 2048 + 2,
    };
    const prompt = intOpt(ctx, 'prompt', quick ? 32 : 128);
    const newTokens = intOpt(ctx, 'new', quick ? 8 : 32);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-ort-'));
    const out: BenchResult[] = [];
    try {
      for (const precision of ['float32', 'int8'] as const) {
        const file = writeXglmOnnx(dir, s, precision);
        out.push(...(await runOrt(ctx, ort, file, s, precision, prompt, newTokens)));
        fs.rmSync(`${file}.data`, { force: true });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    if (ctx.options['ort-only'] !== true) {
      for (const weights of ['float32', 'int8']) {
        const options = { ...ctx.options, d: String(s.d), layers: String(s.layers), ffn: String(s.ffn), heads: String(s.heads), vocab: String(s.vocab), prompt: String(prompt), new: String(newTokens), weights };
        out.push(...(await xglmBench.run({ ...ctx, options })));
      }
    }
    return out;
  },
};
