/**
 * Where the bytes of a training step go (float32 everywhere), estimated from the shapes before a
 * run starts, so a run that cannot fit the wasm heap (4 GiB, the most a 32-bit wasm memory can
 * address) is refused with what would fit instead of aborting with an out-of-memory trap.
 *
 * Activations: per layer and token, the tensors backprop keeps (LayerNorm in/out, q/k/v/context,
 * attention scores and probabilities per head, fc1 output and activation, residuals, dropout masks)
 * ~ 12 d + 3 ffn + 3 heads * T floats (cross-attention adds 6 d + 2 heads * S). With gradient
 * checkpointing only each block's input (d per token) stays, plus one block's worth while it is
 * recomputed. The tied head costs one 64 MB chunk of logits three times over (logits, softmax,
 * their gradient) when the loss is chunked, else 4 x tokens x vocab floats.
 */
import { PolyglotError } from '../core/errors.js';
import { LOGITS_CHUNK_ELEMENTS } from '../losses/chunked-cross-entropy.js';

export const WASM_HEAP_BYTES = 4 * 1024 ** 3;

export interface ShapeForMemory {
  /** Decoder-only: decoderLayers = 0 and encoderLayers = the stack; seq2seq: both. */
  encoderLayers: number;
  decoderLayers: number;
  /** true when the decoder has cross-attention (seq2seq). */
  crossAttention: boolean;
  dModel: number;
  ffnDim: number;
  heads: number;
  vocab: number;
  /** Parameters of the model (distinct variables). */
  parameters: number;
}

export interface StepForMemory {
  batch: number;
  /** Tokens per row (decoder-only) / per side (seq2seq). */
  length: number;
  /** Parameters in the optimizer. */
  trained: number;
  gradientCheckpointing: boolean;
  /** Loss through the tied head in chunks (XGLM and models using chunkedTiedCrossEntropy). */
  chunkedLogits: boolean;
}

export interface MemoryPlan {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  logits: number;
  temporaries: number;
  total: number;
}

export function planTrainingMemory(s: ShapeForMemory, st: StepForMemory): MemoryPlan {
  const f = 4;
  const t = st.batch * st.length;
  const perTokenLayer = 12 * s.dModel + 3 * s.ffnDim + 3 * s.heads * st.length;
  const crossPerToken = 6 * s.dModel + 2 * s.heads * st.length;
  const layers = s.encoderLayers + s.decoderLayers;
  const fullActs = t * (layers * perTokenLayer + (s.crossAttention ? s.decoderLayers * crossPerToken : 0)) * f;
  const oneBlock = t * (perTokenLayer + (s.crossAttention ? crossPerToken : 0)) * f;
  const activations = st.gradientCheckpointing ? t * layers * s.dModel * f + oneBlock : fullActs;
  const chunk = Math.min(t * s.vocab, LOGITS_CHUNK_ELEMENTS);
  const logits = st.chunkedLogits ? 3 * chunk * f : 4 * t * s.vocab * f;
  const weights = s.parameters * f;
  const gradients = st.trained * f;
  const optimizer = 2 * st.trained * f;
  // the largest short-lived tensors of one op: an FFN hidden and an attention score tensor, twice
  const temporaries = 2 * t * (s.ffnDim + s.heads * st.length) * f;
  return { weights, gradients, optimizer, activations, logits, temporaries, total: weights + gradients + optimizer + activations + logits + temporaries };
}

const gb = (b: number) => `${(b / 1024 ** 3).toFixed(2)} GiB`;

export function formatMemoryPlan(p: MemoryPlan): string {
  return `weights ${gb(p.weights)}, gradients ${gb(p.gradients)}, optimizer ${gb(p.optimizer)}, activations ${gb(p.activations)}, logits ${gb(p.logits)}, temporaries ${gb(p.temporaries)} = ${gb(p.total)}`;
}

/**
 * Throws a one-line PolyglotError when the step does not fit `limit`, naming what would:
 * gradient checkpointing, LoRA, the largest batch, or a backend without the wasm limit.
 */
export function checkFits(s: ShapeForMemory, st: StepForMemory, o: { limit: number; lora: boolean; loraTrained?: number; canCheckpoint: boolean }): MemoryPlan {
  const plan = planTrainingMemory(s, st);
  if (plan.total <= o.limit) return plan;
  const fits = (x: StepForMemory) => planTrainingMemory(s, { ...x, gradientCheckpointing: x.gradientCheckpointing && o.canCheckpoint }).total <= o.limit;
  const gc = o.canCheckpoint ? ' --gradient-checkpointing' : '';
  const hints: string[] = [];
  if (o.canCheckpoint && !st.gradientCheckpointing && fits({ ...st, gradientCheckpointing: true })) hints.push('--gradient-checkpointing');
  if (!o.lora && o.loraTrained !== undefined && fits({ ...st, trained: o.loraTrained, gradientCheckpointing: true })) hints.push(`--lora${gc}`);
  for (let b = st.batch - 1; b >= 1; b--) {
    if (fits({ ...st, batch: b, gradientCheckpointing: true })) {
      hints.push(`--batch-size ${b}${st.gradientCheckpointing ? '' : gc} (with --grad-accum to keep the effective batch)`);
      break;
    }
  }
  if (!fits({ ...st, batch: 1, gradientCheckpointing: true })) {
    for (let len = Math.floor(st.length / 2); len >= 8; len = Math.floor(len / 2)) {
      if (fits({ ...st, batch: 1, length: len, gradientCheckpointing: true })) {
        hints.push(`--batch-size 1 --max-length ${len}${gc}`);
        break;
      }
    }
  }
  hints.push('--backend tensorflow (no 4 GiB limit, where @tensorflow/tfjs-node installs)');
  throw new PolyglotError(`training step needs about ${gb(plan.total)} (${formatMemoryPlan(plan)}), the wasm heap holds ${gb(o.limit)}; would fit: ${hints.join('; or ')}`);
}
