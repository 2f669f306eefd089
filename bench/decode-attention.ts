/**
 * Decode steps with the fused native attention (backend/native-attention.ts, in-place KV cache
 * buffers) against the tfjs ops it replaces, interleaved in one process on one random model,
 * with the cache copied every step instead of appended in place, and with whole sub-blocks as
 * one native call each (backend/native-decode-block.ts) (XGLM-564M shape by default, `node dist/bench/run.js attention [--weights int8|float32]
 * [--prompt 8] [--new 32] [--rounds 3]`). Per round and path: one session, the prompt step, then
 * `--new` greedy single-token steps timed (ms/token; the best and median round are reported), and
 * the kernel calls of one step counted (bench/decode-profile.ts). Only when named.
 */
import { tf } from '../core/tf.js';
import { parseXGLMConfig } from '../models/xglm/config.js';
import { XGLMDecoderSession } from '../models/xglm/session.js';
import { setNativeAttentionEnabled, nativeAttentionAvailable } from '../backend/native-attention.js';
import type { WeightPrecision } from '../layers/weight-precision.js';
import { applyWeightPrecision } from '../layers/weight-precision.js';
import { setInPlaceAppend } from '../layers/kv-buffer.js';
import { setNativeDecodeBlocksEnabled } from '../backend/native-decode-block.js';
import { result, type Bench, type BenchContext, type BenchResult } from './common.js';
import { profileDecode } from './decode-profile.js';
import { randomModel } from './xglm.js';

function intOpt(ctx: BenchContext, key: string, dflt: number): number {
  const v = ctx.options[key];
  return typeof v === 'string' ? Number.parseInt(v, 10) : dflt;
}

/** Greedy: the argmax of a [1, V] logits tensor (disposed). */
function argmax(logits: tf.Tensor): number {
  const data = logits.dataSync() as Float32Array;
  logits.dispose();
  let best = 0;
  for (let j = 1; j < data.length; j++) if (data[j] > data[best]) best = j;
  return best;
}

export const decodeAttentionBench: Bench = {
  name: 'attention',
  description: 'decode ms/token and kernel calls with the fused native attention vs the tfjs ops (XGLM-564M shape); --weights --prompt --new --rounds',
  onlyByName: true,
  async run(ctx) {
    if (!nativeAttentionAvailable()) return [];
    const cfg = parseXGLMConfig({
      d_model: intOpt(ctx, 'd', 1024),
      ffn_dim: intOpt(ctx, 'ffn', 4096),
      num_layers: intOpt(ctx, 'layers', ctx.quick ? 4 : 24),
      attention_heads: intOpt(ctx, 'heads', 16),
      vocab_size: intOpt(ctx, 'vocab', ctx.quick ? 32000 : 256008),
      dropout: 0,
      attention_dropout: 0,
    });
    const weights = (typeof ctx.options['weights'] === 'string' ? ctx.options['weights'] : 'int8') as WeightPrecision;
    const promptLen = intOpt(ctx, 'prompt', 8);
    const newTokens = intOpt(ctx, 'new', ctx.quick ? 8 : 32);
    const rounds = intOpt(ctx, 'rounds', 3);
    const lm = randomModel(cfg, 1, weights);
    applyWeightPrecision(lm, weights, { tensors: 0, nativeBytes: 0, native: false, rounded: weights === 'bfloat16' || weights === 'float16' });
    const prompt = Array.from({ length: promptLen }, (_, i) => 3 + ((i * 7919) % (cfg.vocabSize - 3)));
    const paths = [
      { name: 'tfjs ops', fused: false, inPlace: true, blocks: false },
      { name: 'fused, cache copied each step', fused: true, inPlace: false, blocks: false },
      { name: 'fused native', fused: true, inPlace: true, blocks: false },
      { name: 'whole sub-blocks native', fused: true, inPlace: true, blocks: true },
    ];
    type Path = (typeof paths)[number];
    /** A fresh session on `path`'s switches (restored to all on afterwards), given to `fn`. */
    const onPath = <R>(path: Path, fn: (session: XGLMDecoderSession) => R): R => {
      setNativeAttentionEnabled(path.fused);
      setInPlaceAppend(path.inPlace);
      setNativeDecodeBlocksEnabled(path.blocks);
      const session = new XGLMDecoderSession(lm, [prompt.map(() => 1)]);
      try {
        return fn(session);
      } finally {
        session.dispose();
        setNativeAttentionEnabled(true);
        setInPlaceAppend(true);
        setNativeDecodeBlocksEnabled(true);
      }
    };
    /** The prompt step, then `newTokens` timed greedy steps; returns ms/token and the ids. */
    const decode = (path: Path): { ms: number; ids: number[] } =>
      onPath(path, (session) => {
        const p = tf.tensor2d([prompt], undefined, 'int32');
        let next = argmax(session.step(p));
        p.dispose();
        const ids = [next];
        const t0 = performance.now();
        for (let s = 0; s < newTokens; s++) {
          const tok = tf.tensor2d([[next]], [1, 1], 'int32');
          next = argmax(session.step(tok));
          tok.dispose();
          ids.push(next);
        }
        return { ms: (performance.now() - t0) / newTokens, ids };
      });
    /** Kernel calls and the cache-append / attention kernels' ms per step over `newTokens` profiled steps after the prompt. */
    const calls = (path: Path): { calls: number; cacheMs: number; attentionMs: number } =>
      onPath(path, (session) => {
        const p = tf.tensor2d([prompt], undefined, 'int32');
        tf.dispose(session.step(p));
        p.dispose();
        const prof = profileDecode(session, 5, newTokens, cfg.dModel, cfg.vocabSize);
        const ms = (group: RegExp) => prof.kernels.filter((k) => group.test(k.group)).reduce((a, k) => a + k.msPerStep, 0);
        return {
          calls: prof.kernels.reduce((a, k) => a + k.callsPerStep, 0),
          cacheMs: ms(/^KV cache/),
          attentionMs: ms(/^(fused attention|attention products|softmax)/) + ms(/^transpose\/reshape/),
        };
      });
    const out: BenchResult[] = [];
    try {
      for (const p of paths) decode(p); // warm-up
      const times = paths.map(() => [] as number[]);
      const ids = paths.map(() => [] as number[]);
      for (let r = 0; r < rounds; r++) {
        paths.forEach((p, i) => {
          const d = decode(p);
          times[i].push(d.ms);
          ids[i] = d.ids;
        });
      }
      const same = ids.every((row) => row.every((t, j) => t === ids[0][j]));
      paths.forEach((p, i) => {
        const sorted = [...times[i]].sort((a, b) => a - b);
        const median = sorted[Math.floor(sorted.length / 2)];
        const k = calls(p);
        console.log(
          `  ${p.name}: ms/token per round ${times[i].map((t) => t.toFixed(1)).join(' ')} (best ${sorted[0].toFixed(1)}); profiled step: ${k.calls.toFixed(0)} kernel calls, ` +
            `cache append ${k.cacheMs.toFixed(2)} ms, attention kernels ${k.attentionMs.toFixed(2)} ms; greedy ids same on every path: ${same}`,
        );
        out.push(
          result(ctx, `decode attention ${p.name} [prompt ${promptLen}, ${newTokens} new] d${cfg.dModel} L${cfg.numLayers} V${cfg.vocabSize} weights ${weights}`, {
            ms: median,
            tokens: 1,
            extra: { bestMsPerToken: +sorted[0].toFixed(2), rounds: times[i].map((t) => +t.toFixed(1)).join(' '), kernelCallsPerToken: +k.calls.toFixed(0), cacheAppendMs: +k.cacheMs.toFixed(2), attentionKernelMs: +k.attentionMs.toFixed(2), sameGreedyIds: same },
          }),
        );
      });
    } finally {
      lm.dispose();
    }
    return out;
  },
};
