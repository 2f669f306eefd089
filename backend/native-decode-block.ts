/**
 * A whole pre-norm residual sub-block of a decode step as one wasm-backend kernel
 * (`PolyglotDecodeBlock`, native/src/decode_block.cc): out = h + sublayer(LayerNorm(h)) with the
 * sublayer self-attention (appending the step's keys/values to the cache buffer in place),
 * cross-attention over cached keys/values, or the dense FFN. Inside, the addon runs the same
 * kernels as the separate wasm kernels (LayerNorm, int8 / 16-bit / float32 products, fused
 * attention, GELU) in the same order, so the output is the same; what it saves is the tfjs
 * dispatch of about a dozen kernels per decoder layer, and the idle gaps between the weight
 * streams (a GEMV started after a gap runs slower, docs/BACKENDS.md).
 * Inference only (no gradient): layers/decode-blocks.ts uses it only when none is recorded.
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, offsetOf } from './wasm-backend.js';
import { attentionOperandsError } from './native-attention.js';
import { nativeAddon, type NativeAddon, type NativeWeight } from './native.js';

export const NATIVE_DECODE_BLOCK_KERNEL = 'PolyglotDecodeBlock';

export type DecodeBlockKind = 'self' | 'cross' | 'ffn';
const KIND_CODES: Record<DecodeBlockKind, number> = { self: 0, cross: 1, ffn: 2 };

/** The FFN activations the block computes: GELU (exact or tanh form with coefficient c) and ReLU. */
export type BlockActivation = { kind: 'erf' } | { kind: 'tanh'; c: number } | { kind: 'relu' };

/** One linear of the block: a native weight handle, or a float32 kernel [in, out] on the heap; optional bias [out]. */
export interface BlockLinear {
  handle?: NativeWeight;
  kernel?: tf.Tensor;
  bias?: tf.Tensor;
}

export interface DecodeBlockInput {
  kind: DecodeBlockKind;
  /** [B, Tq, d] float32. */
  hidden: tf.Tensor;
  gamma: tf.Tensor;
  beta: tf.Tensor;
  eps: number;
  /** self: q, k, v, out; cross: q, out (k, v unused); ffn: fc1, fc2. */
  linears: (BlockLinear | undefined)[];
  /** Attention: [B, heads, capacity, head_dim] buffers, rows [0, length) in use (self appends Tq rows in place). */
  key?: tf.Tensor;
  value?: tf.Tensor;
  mask?: tf.Tensor;
  length?: number;
  numHeads?: number;
  scale?: number;
  /** FFN: fc1's width and the activation. */
  ffnDim?: number;
  activation?: BlockActivation;
}

// POLYGLOT_NATIVE_BLOCKS=0 keeps the separate kernels (each still native).
let enabled = process.env.POLYGLOT_NATIVE_BLOCKS !== '0';
let registered = false;

/** Tests and benchmarks compare whole blocks with the separate kernels in one process. */
export function setNativeDecodeBlocksEnabled(on: boolean): void {
  enabled = on;
}

/** Block kernel calls so far (tests check the block path really ran). */
export let nativeDecodeBlockCalls = 0;

function blockFn(): NativeAddon['decodeBlock'] | undefined {
  const addon = nativeAddon();
  // An addon built before the block kernel lacks it.
  return typeof addon?.decodeBlock === 'function' ? addon.decodeBlock.bind(addon) : undefined;
}

/** The block kernel can run now: addon loaded (with the kernel), wasm backend active, not switched off. */
export function nativeDecodeBlockAvailable(): boolean {
  return enabled && tf.getBackend() === 'wasm' && blockFn() !== undefined;
}

/** h + sublayer(LayerNorm(h)) [B, Tq, d]; a self-attention block writes the new keys/values into key/value. */
export function nativeDecodeBlock(input: DecodeBlockInput): tf.Tensor {
  register();
  const inputs: tf.NamedTensorMap = { hidden: input.hidden, gamma: input.gamma, beta: input.beta };
  const handles: (NativeWeight | null)[] = [null, null, null, null];
  input.linears.forEach((l, i) => {
    if (l === undefined) return;
    if (l.handle !== undefined) handles[i] = l.handle;
    else if (l.kernel !== undefined) inputs[`kernel${i}`] = l.kernel;
    if (l.bias !== undefined) inputs[`bias${i}`] = l.bias;
  });
  for (const name of ['key', 'value', 'mask'] as const) {
    const t = input[name];
    if (t !== undefined) inputs[name] = t;
  }
  const act = input.activation ?? { kind: 'erf' };
  const attrs = {
    kind: KIND_CODES[input.kind],
    handles,
    eps: input.eps,
    length: input.length ?? 0,
    numHeads: input.numHeads ?? 1,
    scale: input.scale ?? 1,
    ffnDim: input.ffnDim ?? 0,
    activation: act.kind === 'erf' ? 0 : act.kind === 'tanh' ? 1 : 2,
    geluC: act.kind === 'tanh' ? act.c : 0,
  } as unknown as tf.NamedAttrMap;
  return tf.engine().runKernel(NATIVE_DECODE_BLOCK_KERNEL, inputs, attrs) as tf.Tensor;
}

interface BlockAttrs {
  kind: number;
  handles: (NativeWeight | null)[];
  eps: number;
  length: number;
  numHeads: number;
  scale: number;
  ffnDim: number;
  activation: number;
  geluC: number;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function kernel(args: KernelArgs): tf.TensorInfo {
  const fn = blockFn();
  if (fn === undefined) throw new Error(`${NATIVE_DECODE_BLOCK_KERNEL}: the native addon has no decodeBlock kernel (rebuild with npm run build:native)`);
  const backend = asWasmBackend(args.backend);
  const inputs = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const a = args.attrs as unknown as BlockAttrs;
  const hidden = inputs['hidden']!;
  for (const [name, t] of Object.entries(inputs)) {
    if (t !== undefined && t.dtype !== 'float32') throw new Error(`${NATIVE_DECODE_BLOCK_KERNEL}: expected float32 ${name}, found ${t.dtype}`);
  }
  if (hidden.shape.length !== 3) throw new Error(`${NATIVE_DECODE_BLOCK_KERNEL}: expected hidden [B, Tq, d], found [${hidden.shape}]`);
  const [b, tq, d] = hidden.shape as [number, number, number];
  const m = b * tq;
  const key = inputs['key'];
  const value = inputs['value'];
  const mask = inputs['mask'];
  const cap = key?.shape[2] ?? 0;
  const keys = a.length + (a.kind === 0 ? tq : 0);
  const wrong = a.kind === 2 ? undefined : attentionOperandsError(b, tq, d, a.numHeads, keys, key, value, mask);
  if (wrong !== undefined) throw new Error(`${NATIVE_DECODE_BLOCK_KERNEL}: ${wrong}`);
  // float32 kernels [in, out] as each role needs them (self: q, k, v, out; cross: q, out; FFN: fc1, fc2).
  for (let i = 0; i < 4; i++) {
    const k = inputs[`kernel${i}`];
    if (k === undefined) continue;
    const want = a.kind === 2 ? (i === 0 ? [d, a.ffnDim] : [a.ffnDim, d]) : [d, d];
    if (k.shape.join() !== want.join()) throw new Error(`${NATIVE_DECODE_BLOCK_KERNEL}: expected linear ${i}'s kernel [${want}], found [${k.shape}]`);
  }
  const scratchFloats = a.kind === 0 ? 6 * m * d : a.kind === 1 ? 4 * m * d : 2 * m * d + m * a.ffnDim;
  // Every allocation before the first offset is read: allocation may move the heap (docs/BACKENDS.md).
  const out = backend.makeOutput([b, tq, d], 'float32');
  const scratch = backend.makeOutput([scratchFloats], 'float32');
  try {
    const at = (t: tf.TensorInfo | undefined) => (t === undefined ? -1 : offsetOf(backend, t) / 4);
    const offsets = new Float64Array(16);
    offsets.set([at(hidden), at(out), at(inputs['gamma']), at(inputs['beta']), at(scratch)]);
    for (let i = 0; i < 4; i++) {
      offsets[5 + i] = at(inputs[`bias${i}`]);
      offsets[9 + i] = at(inputs[`kernel${i}`]);
    }
    offsets.set([at(key), at(value), at(mask)], 13);
    const ms = mask?.shape ?? [1, 1, 1, keys];
    const dims = Float64Array.of(a.kind, b, tq, d, a.numHeads, a.length, cap, ms[0]!, ms[1]!, ms[2]!, a.ffnDim, a.activation, a.eps, a.scale, a.geluC, scratchFloats);
    nativeDecodeBlockCalls++;
    fn(backend.wasm.HEAPU8.buffer as ArrayBuffer, a.handles, offsets, dims);
  } finally {
    backend.disposeData(scratch.dataId);
  }
  return out;
}

function register(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: NATIVE_DECODE_BLOCK_KERNEL, backendName: 'wasm', kernelFunc: kernel as unknown as tf.KernelFunc });
}
