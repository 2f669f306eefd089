/**
 * Decode steps on the native path: each pre-norm residual sub-block
 *   h + sublayer(LayerNorm(h))
 * of a decoder layer (self-attention, cross-attention, dense FFN) as one native call
 * (backend/native-decode-block.ts) instead of a dozen tfjs kernels. Same kernels, same order,
 * same numbers as the separate path; these return undefined (the caller runs the layers as
 * usual) whenever the block kernel cannot compute the call: graph export, training or a
 * gradient tape, no addon, a LoRA adapter, an activation other than GELU / ReLU, a weight
 * that is neither native int8 / 16-bit nor a plain float32 kernel, or more rows than a decode
 * step has.
 */
import type { tf } from '../core/tf.js';
import { eagerOps } from '../ops/eager.js';
import type { Ops } from '../ops/ops.js';
import { gradientsRecorded } from '../backend/native-attention.js';
import { nativeDecodeBlock, nativeDecodeBlockAvailable, type BlockActivation, type BlockLinear } from '../backend/native-decode-block.js';
import { geluForm } from './activations.js';
import type { Attention, AttentionInput, AttentionOutput, KeyValue } from './attention.js';
import type { RunOptions } from './base.js';
import type { FeedForward } from './feed-forward.js';
import { appendStep } from './kv-buffer.js';
import type { LayerNorm } from './layer-norm.js';
import { linearProducts, type Linear } from './linear.js';

/** Rows (batch × query positions) of the steps the block kernel serves: decode steps and beams, not prompts. */
export const DECODE_BLOCK_MAX_ROWS = 64;

function applies<T>(o: Ops<T>, hidden: T, opts: RunOptions): hidden is T & tf.Tensor {
  if ((o as unknown) !== eagerOps || opts.training === true || !nativeDecodeBlockAvailable() || gradientsRecorded()) return false;
  const h = hidden as unknown as tf.Tensor;
  return h.dtype === 'float32' && h.rank === 3 && h.shape[0]! * h.shape[1]! <= DECODE_BLOCK_MAX_ROWS;
}

/** A Linear as the block kernel takes it, or undefined when it cannot (adapter, non-native frozen weight, a product override). */
function blockLinear(l: Linear): BlockLinear | undefined {
  if (l.adapter !== undefined) return undefined;
  const bias = l.bias?.read();
  const frozen = l.frozenWeight;
  if (frozen !== undefined) {
    const handle = frozen.nativeHandle;
    return handle === undefined ? undefined : { handle, bias };
  }
  const kernel = l.kernel;
  return linearProducts.has(kernel) ? undefined : { kernel: kernel.read(), bias };
}

function norm(n: LayerNorm): { gamma: tf.Tensor; beta: tf.Tensor; eps: number } {
  return { gamma: n.gamma.read(), beta: n.beta.read(), eps: n.cfg.eps };
}

/**
 * h + attn(norm(h)) as one native call (self-attention: the step's keys/values appended to the
 * cache buffer in place; cross-attention: the cached keys/values), or undefined.
 */
export function nativeAttentionBlock<T>(o: Ops<T>, hidden: T, layerNorm: LayerNorm, attn: Attention, input: AttentionInput<T>): { hidden: T; present: KeyValue<T> } | undefined {
  if (!applies(o, hidden, input) || !attn.fusedApplies(o, hidden, input)) return undefined;
  const isCross = attn.cfg.isCross;
  const projections = isCross ? [attn.qProj, undefined, undefined, attn.outProj] : [attn.qProj, attn.kProj, attn.vProj, attn.outProj];
  const linears = projections.map((l) => (l === undefined ? undefined : blockLinear(l)));
  if (linears.some((l, i) => l === undefined && projections[i] !== undefined)) return undefined;
  const past = input.past as unknown as KeyValue<tf.Tensor>;
  // Self-attention appends: a buffer with room (a copy with room when the cache is not the session's own).
  const { length, key, value, present } = isCross ? { length: past.length ?? past.key.shape[2]!, key: past.key, value: past.value, present: past } : appendStep(past, hidden.shape[1]!);
  const out = nativeDecodeBlock({
    kind: isCross ? 'cross' : 'self',
    hidden,
    ...norm(layerNorm),
    linears,
    key,
    value,
    mask: input.mask as unknown as tf.Tensor | undefined,
    length,
    numHeads: attn.cfg.numHeads,
    scale: attn.headDim ** -0.5,
  });
  return { hidden: out as unknown as T, present: present as unknown as AttentionOutput<T>['present'] };
}

function blockActivation(ffn: FeedForward): BlockActivation | undefined {
  if (ffn.activation === 'relu') return { kind: 'relu' };
  return geluForm(ffn.activation);
}

/** h + ffn(norm(h)) as one native call, or undefined. */
export function nativeFeedForwardBlock<T>(o: Ops<T>, hidden: T, layerNorm: LayerNorm, ffn: FeedForward, opts: RunOptions): T | undefined {
  if (!applies(o, hidden, opts)) return undefined;
  const activation = blockActivation(ffn);
  const fc1 = blockLinear(ffn.fc1);
  const fc2 = blockLinear(ffn.fc2);
  if (activation === undefined || fc1 === undefined || fc2 === undefined) return undefined;
  return nativeDecodeBlock({ kind: 'ffn', hidden, ...norm(layerNorm), linears: [fc1, fc2], ffnDim: ffn.cfg.ffnDim, activation }) as unknown as T;
}
