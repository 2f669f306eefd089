/**
 * The AdamW update as one native kernel on the wasm heap (native/src/adamw.cc): train/adamw.ts's
 * ~13 element-wise tfjs kernels per parameter (a full single-threaded pass over memory each, and
 * a temporary each) become one pass on every pool thread, with the same float32 operations in
 * the same order, so both paths give the same bits (test/native-adamw.test.ts).
 */
import { tf } from '../core/tf.js';
import { nativeAddon } from './native.js';
import { asWasmBackend, offsetOf } from './wasm-backend.js';

const KERNEL = 'PolyglotAdamW';

/** The scalars of one parameter's step, as train/adamw.ts computes them. */
export interface AdamWScalars {
  gradScale: number;
  /** 1 - lr * weight_decay (1: no decay). */
  decay: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  /** sqrt(1 - beta2^t). */
  bc2Sqrt: number;
  eps: number;
  /** lr / (1 - beta1^t). */
  stepSize: number;
}

/** The scalars in native/src/adamw.cc's order. */
function packed(s: AdamWScalars): Float64Array {
  return Float64Array.from([s.gradScale, s.decay, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.bc2Sqrt, s.eps, s.stepSize]);
}

let registered = false;
let enabled = true;

/** Tests and benchmarks compare the native and tfjs paths in one process. */
export function setNativeAdamWEnabled(on: boolean): void {
  enabled = on;
}

function register(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({
    kernelName: KERNEL,
    backendName: 'wasm',
    kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
      const backend = asWasmBackend(args.backend);
      const { p, g, m, v } = args.inputs as Record<'p' | 'g' | 'm' | 'v', tf.TensorInfo>;
      const s = args.attrs as unknown as AdamWScalars;
      // Outputs first: allocation may move the heap (docs/BACKENDS.md).
      const outs = [p, m, v].map((t) => backend.makeOutput([...t.shape], 'float32'));
      const offsets = Float64Array.from([p, g, m, v, ...outs].map((t) => offsetOf(backend, t) / 4));
      nativeAddon()!.adamwStep(backend.wasm.HEAPU8.buffer as ArrayBuffer, offsets, tf.util.sizeFromShape(p.shape), packed(s));
      return outs;
    }) as unknown as tf.KernelFunc,
  });
}

/**
 * One AdamW step of variable `p` with moments `m`, `v` (float32 variables of one shape) on the
 * native path; false when it is not available (no addon, another backend, wasm threads,
 * switched off): the caller then runs the tfjs ops. A variable that is the only owner of its
 * data (refCount 1: nothing else can see it) is updated in place, which halves the memory
 * traffic and allocates nothing; shared data gets new buffers, assigned to the variables.
 */
export function nativeAdamWUpdate(p: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, s: AdamWScalars): boolean {
  if (!enabled || tf.getBackend() !== 'wasm' || nativeAddon() === undefined) return false;
  if ([p, g, m, v].some((t) => t.dtype !== 'float32')) return false;
  const backend = asWasmBackend(tf.backend());
  const data = [p, m, v].map((t) => backend.dataIdMap.get(t.dataId));
  const distinct = new Set([p, g, m, v].map((t) => t.dataId)).size === 4;
  if (distinct && data.every((d) => d.refCount === 1)) {
    const [po, go, mo, vo] = [p, g, m, v].map((t) => offsetOf(backend, t) / 4);
    nativeAddon()!.adamwStep(backend.wasm.HEAPU8.buffer as ArrayBuffer, Float64Array.from([po, go, mo, vo, po, mo, vo]), p.size, packed(s));
    return true;
  }
  register();
  const out = tf.engine().runKernel(KERNEL, { p, g, m, v }, s as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
  m.assign(out[1]);
  v.assign(out[2]);
  p.assign(out[0]);
  tf.dispose(out); // the variables hold the data now
  return true;
}
