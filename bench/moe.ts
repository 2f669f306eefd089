/**
 * MoE benchmarks:
 *  1. one sparse MLP layer (top-2 routing, eager sparse dispatch) at fixed tokens and d_model for
 *     num_experts 4, 16, 64: the work is 2 expert FFNs per token whatever num_experts is, so the
 *     time should stay flat (the graph path's dense-masked experts are timed beside it: they grow
 *     with num_experts);
 *  2. translation (greedy generation through the seq2seq DecoderSession) with an NLLB-MoE of
 *     d_model 1024, 12 + 12 layers, 16 experts, sparse step 4, ffn 4096, vocab 128112 (HF
 *     defaults), random weights.
 * Random weights: every parameter of one shape shares one random tensor (set right after each
 * module is created), so a 1.3B-parameter model fits the wasm heap; the compute is unchanged
 * (each expert still runs its own products on its own tokens).
 * Options: --tokens N (sparse layer, default 256), --new-tokens N (translation, default 24).
 */
import { tf } from '../core/tf.js';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import { withInitialValues, type InitialValueProvider } from '../layers/base.js';
import { SparseMLP, type SparseMLPConfig } from '../layers/moe/sparse-mlp.js';
import { parseNllbMoeConfig } from '../models/nllb-moe/config.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { generate } from '../generation/generate.js';
import { measure, result, type Bench, type BenchContext, type BenchResult } from './common.js';

/**
 * Initial values for every >= 2-D parameter: a random tensor shared by all parameters of that
 * shape (routers get their own, so layers route differently); LayerNorm ones / zero biases stay.
 */
function sharedRandomInit(seed: number, std = 0.02): { provider: InitialValueProvider; dispose: () => void } {
  const pool = new Map<string, tf.Tensor>();
  let routerSeed = seed + 1000;
  const provider: InitialValueProvider = (name, shape) => {
    if (shape.length < 2) return undefined;
    if (name.includes('router.classifier')) return tf.randomNormal(shape, 0, 1, 'float32', routerSeed++);
    const key = shape.join('x');
    let v = pool.get(key);
    if (!v) {
      v = tf.randomNormal(shape, 0, std, 'float32', seed + pool.size);
      pool.set(key, v);
    }
    // the variable takes ownership of the tensor it is given: a clone shares the pooled data
    return tf.clone(v);
  };
  return { provider, dispose: () => tf.dispose([...pool.values()]) };
}

function sparseLayerBench(ctx: BenchContext): BenchResult[] {
  const tokens = Number(ctx.options['tokens'] ?? (ctx.quick ? 64 : 256));
  const d = ctx.backend === 'cpu' ? 256 : 1024;
  const ffn = 4 * d;
  const out: BenchResult[] = [];
  const x = tf.randomNormal([tokens, d], 0, 1, 'float32', 1);
  for (const E of [4, 16, 64]) {
    const cfg: SparseMLPConfig = {
      numExperts: E,
      dModel: d,
      ffnDim: ffn,
      routerBias: false,
      secondExpertPolicy: 'all',
      normalizeRouterProbBeforeDropping: false,
      batchPrioritizedRouting: false,
      routerIgnorePaddingTokens: false,
      expertCapacity: null,
      moeEvalCapacityTokenFraction: 1.0,
      activationFunction: 'relu',
      activationDropout: 0,
      moeTokenDropout: 0.2,
    };
    const init = sharedRandomInit(10 * E);
    const layer = withInitialValues(init.provider, () => new SparseMLP('bench.ffn', cfg));
    // 2 experts per token, fc1 + fc2 = 2 products of 2*d*ffn FLOPs each.
    const flops = tokens * 2 * 2 * 2 * d * ffn;
    const t = measure(() => {
      const y = tf.tidy(() => layer.run(eagerOps, x, { training: false }).output);
      y.dataSync();
      y.dispose();
    }, { minMs: ctx.quick ? 300 : 1500, minReps: 2 });
    out.push(result(ctx, `sparse MLP top-2, ${E} experts, ${tokens} tokens, d ${d}, ffn ${ffn} [eager sparse dispatch]`, { ms: t.msPerIteration, flops, tokens, extra: { numExperts: E } }));
    if (E <= (ctx.quick ? 4 : 16)) {
      const graphLike: Ops<tf.Tensor> = { ...eagerOps, kind: 'graph' };
      const td = measure(() => {
        const y = tf.tidy(() => layer.run(graphLike, x, { training: false }).output);
        y.dataSync();
        y.dispose();
      }, { minMs: ctx.quick ? 300 : 1000, minReps: 1 });
      out.push(result(ctx, `sparse MLP top-2, ${E} experts, ${tokens} tokens [graph path: dense-masked experts, for comparison]`, { ms: td.msPerIteration, flops, tokens, extra: { numExperts: E } }));
    }
    layer.disposeParameters();
    init.dispose();
  }
  x.dispose();
  return out;
}

async function translationBench(ctx: BenchContext): Promise<BenchResult[]> {
  const small = ctx.backend === 'cpu';
  const config = parseNllbMoeConfig(
    small
      ? { d_model: 256, encoder_layers: 4, decoder_layers: 4, encoder_ffn_dim: 1024, decoder_ffn_dim: 1024, encoder_attention_heads: 4, decoder_attention_heads: 4, num_experts: 16, encoder_sparse_step: 4, decoder_sparse_step: 4, vocab_size: 32000 }
      : { d_model: 1024, encoder_layers: 12, decoder_layers: 12, encoder_ffn_dim: 4096, decoder_ffn_dim: 4096, encoder_attention_heads: 16, decoder_attention_heads: 16, num_experts: 16, encoder_sparse_step: 4, decoder_sparse_step: 4, vocab_size: 128112 },
    'bench config',
  );
  const init = sharedRandomInit(7);
  const model = withInitialValues(init.provider, () => new NllbMoeForConditionalGeneration(config));
  const batch = 4;
  const srcLen = 32;
  const newTokens = Number(ctx.options['new-tokens'] ?? (ctx.quick ? 6 : 24));
  const ids = new Int32Array(batch * srcLen);
  for (let i = 0; i < ids.length; i++) ids[i] = 4 + ((i * 7919) % 1000);
  for (let b = 0; b < batch; b++) ids[b * srcLen + srcLen - 1] = config.eosTokenId;
  const input = tf.tensor2d(ids, [batch, srcLen], 'int32');
  const run = async () => {
    const session = new NllbMoeSession(model, input);
    try {
      // eos disabled so every run decodes the same number of tokens
      return await generate(session, { inputIds: Array.from({ length: batch }, () => [config.decoderStartTokenId]) }, { maxNewTokens: newTokens, eosTokenId: null, padTokenId: config.padTokenId });
    } finally {
      session.dispose();
    }
  };
  await run(); // warm-up
  const reps = ctx.quick ? 1 : 2;
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) await run();
  const ms = (performance.now() - t0) / reps;
  const d = config.dModel;
  const f = config.decoderFfnDim;
  const L = config.decoderLayers;
  // matmul FLOPs: encoder once (attention projections 4d^2, FFN 2df per layer or 2 experts), decoder per token.
  const encFfnFlops = (i: number) => ((i + 1) % config.encoderSparseStep === 0 ? 2 : 1) * 2 * 2 * d * config.encoderFfnDim;
  let encFlops = 0;
  for (let i = 0; i < config.encoderLayers; i++) encFlops += batch * srcLen * (2 * 4 * d * d + encFfnFlops(i));
  let decPerToken = 2 * d * config.vocabSize;
  for (let i = 0; i < L; i++) decPerToken += 2 * 4 * d * d + 2 * 2 * d * d + ((i + 1) % config.decoderSparseStep === 0 ? 2 : 1) * 2 * 2 * d * f;
  const flops = encFlops + batch * newTokens * decPerToken;
  const params = model.namedParameters().reduce((s, p) => s + (p.variable.shape as number[]).reduce((a, b) => a * b, 1), 0);
  const out = [
    result(ctx, `translation NLLB-MoE d${d} ${config.encoderLayers}+${L} layers ${config.numExperts} experts step ${config.decoderSparseStep} vocab ${config.vocabSize} (${(params / 1e9).toFixed(2)}B params), greedy batch ${batch}, src ${srcLen}, ${newTokens} new tokens/row`, {
      ms,
      flops,
      tokens: batch * newTokens,
      extra: { params, batch, srcLen, newTokens },
    }),
  ];
  tf.dispose(input);
  model.dispose();
  init.dispose();
  return out;
}

export const moeBench: Bench = {
  name: 'moe',
  description: 'sparse MLP cost vs num_experts (4/16/64) and NLLB-MoE translation tokens/s (d1024, 12+12 layers, 16 experts)',
  async run(ctx) {
    return [...sparseLayerBench(ctx), ...(await translationBench(ctx))];
  },
};
