/**
 * One big-shape measurement in its own process (bench/big.ts starts it), so its peak RSS is its
 * own and a load that cannot fit (the wasm heap's 4 GB) fails without taking the bench down:
 * loads a checkpoint folder through the library's loader with `--weights` (and `--max-memory`),
 * then times a forward over a prompt and greedy decoding; prints one JSON line.
 *   node dist/bench/big-child.js '{"kind":"xglm","dir":...,"weights":"int8","prompt":128,"newTokens":16}'
 */
import { tf } from '../core/tf.js';
import { selectBackend } from '../backend/select.js';
import { nativeStatus } from '../backend/native.js';
import { applyWeightPrecision, type WeightPrecision } from '../layers/weight-precision.js';
import type { PretrainedOptions } from '../models/pretrained.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { XGLMDecoderSession } from '../models/xglm/session.js';
import { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { generate } from '../generation/generate.js';
import type { ExpertCacheStats } from '../layers/moe/expert-store.js';

export interface BigChildTask {
  kind: 'xglm' | 'nllb';
  dir: string;
  weights: WeightPrecision;
  maxMemoryGB?: number;
  prompt: number;
  newTokens: number;
}

export interface BigChildResult {
  ok: boolean;
  error?: string;
  loadSeconds?: number;
  forwardMs?: number;
  decodeMsPerToken?: number;
  decodedTokens?: number;
  peakRssGB: number;
  wasmHeapGB?: number;
  /** int8 / 16-bit weights held by the addon (outside the wasm heap). */
  nativeWeightsGB?: number;
  native: string;
  expertCache?: ExpertCacheStats;
}

function wasmHeapGB(): number | undefined {
  const n = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length;
  return n === undefined ? undefined : n / 1e9;
}

function ids(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => 4 + ((i * 7919) % (vocab - 4)));
}

async function timeXglm(task: BigChildTask, out: BigChildResult, lm: XGLMForCausalLM): Promise<void> {
  const V = lm.config.vocabSize;
  const input = tf.tensor2d([ids(task.prompt, V)], undefined, 'int32');
  const t0 = performance.now();
  const r = lm.forward({ inputIds: input as tf.Tensor2D });
  r.logits.dataSync();
  out.forwardMs = performance.now() - t0;
  tf.dispose([r.logits, r.lastHiddenState, ...r.presentKeyValues.flatMap((kv) => [kv.key, kv.value])]);
  input.dispose();
  const prompt = [ids(8, V)];
  const session = new XGLMDecoderSession(lm, [prompt[0].map(() => 1)]);
  try {
    let firstAt = 0;
    const g = await generate(session, { inputIds: prompt }, { maxNewTokens: task.newTokens, eosTokenId: null, onToken: () => void (firstAt ||= performance.now()) });
    out.decodedTokens = g.sequences[0].length - prompt[0].length;
    out.decodeMsPerToken = (performance.now() - firstAt) / Math.max(1, out.decodedTokens - 1);
  } finally {
    session.dispose();
  }
}

async function timeNllb(task: BigChildTask, out: BigChildResult, m: NllbMoeForConditionalGeneration): Promise<void> {
  const c = m.config;
  const src = [...ids(task.prompt - 1, c.vocabSize), c.eosTokenId];
  const input = tf.tensor2d([src], undefined, 'int32');
  const t0 = performance.now();
  // The source encoded once (forward 1 x prompt on the encoder), then greedy decoding.
  const session = new NllbMoeSession(m, input as tf.Tensor2D);
  out.forwardMs = performance.now() - t0;
  try {
    let firstAt = 0;
    const g = await generate(session, { inputIds: [[c.decoderStartTokenId]] }, { maxNewTokens: task.newTokens, eosTokenId: null, padTokenId: c.padTokenId, onToken: () => void (firstAt ||= performance.now()) });
    out.decodedTokens = g.sequences[0].length - 1;
    out.decodeMsPerToken = (performance.now() - firstAt) / Math.max(1, out.decodedTokens - 1);
  } finally {
    session.dispose();
    input.dispose();
  }
}

async function main(task: BigChildTask): Promise<BigChildResult> {
  await selectBackend('wasm');
  const out: BigChildResult = { ok: false, peakRssGB: 0, native: nativeStatus().line };
  try {
    const t0 = performance.now();
    // As `generate` / `translate` load: weights in their precision while loading, embedding tables
    // straight to native memory (`inference`), nothing float32 of them on the wasm heap.
    const opts = { maxMemoryGB: task.maxMemoryGB, weights: task.weights, inference: true } as PretrainedOptions;
    const model = task.kind === 'xglm' ? await XGLMForCausalLM.fromPretrained(task.dir, opts) : await NllbMoeForConditionalGeneration.fromPretrained(task.dir, opts);
    const report = applyWeightPrecision(model, task.weights);
    out.nativeWeightsGB = report.nativeBytes / 1e9;
    out.loadSeconds = (performance.now() - t0) / 1000;
    if (model instanceof XGLMForCausalLM) await timeXglm(task, out, model);
    else {
      await timeNllb(task, out, model);
      out.expertCache = model.expertStore?.stats();
    }
    out.ok = true;
    model.dispose();
  } catch (e) {
    out.error = (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 300);
  }
  out.wasmHeapGB = wasmHeapGB();
  out.peakRssGB = process.resourceUsage().maxRSS / 1e6;
  return out;
}

main(JSON.parse(process.argv[2]) as BigChildTask).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (e: unknown) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(e), peakRssGB: process.resourceUsage().maxRSS / 1e6, native: '' })}\n`);
    process.exit(0);
  },
);
