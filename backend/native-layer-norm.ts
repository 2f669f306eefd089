/**
 * LayerNorm over the last axis as one native kernel (`PolyglotLayerNorm`, native/src/norm*):
 * one call per LayerNorm instead of tfjs' nine (mean, sub, square, mean, add, rsqrt, mul, mul,
 * add). Its gradient (`PolyglotLayerNormGrad`: dx, dgamma, dbeta in one call, mean and rstd
 * recomputed from x) comes through `tf.customGrad`; under gradient tapes both run only when
 * asked (POLYGLOT_FUSED_OPS=train, see native-fused.ts).
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, offsetOf } from './wasm-backend.js';
import { countFusedCall, fusedOpsAddon, registerFusedKernel } from './native-fused.js';
import type { NativeAddon } from './native.js';

const FORWARD = 'PolyglotLayerNorm';
const BACKWARD = 'PolyglotLayerNormGrad';

function register(addon: NativeAddon): void {
  registerFusedKernel(FORWARD, ({ inputs, backend: b, attrs }) => {
    const backend = asWasmBackend(b);
    const x = inputs['x'] as tf.TensorInfo;
    const d = x.shape[x.shape.length - 1];
    const rows = x.shape.reduce((p, q) => p * q, 1) / d;
    // The output first: allocation may move the heap (docs/BACKENDS.md).
    const y = backend.makeOutput(x.shape, 'float32');
    countFusedCall(FORWARD);
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    const off = (t: tf.TensorInfo) => offsetOf(backend, t) / 4;
    addon.layerNorm(heap, off(x), off(inputs['gamma'] as tf.TensorInfo), off(inputs['beta'] as tf.TensorInfo), off(y), rows, d, (attrs as { eps: number }).eps);
    return y;
  });
  registerFusedKernel(BACKWARD, ({ inputs, backend: b, attrs }) => {
    const backend = asWasmBackend(b);
    const x = inputs['x'] as tf.TensorInfo;
    const d = x.shape[x.shape.length - 1];
    const rows = x.shape.reduce((p, q) => p * q, 1) / d;
    const dx = backend.makeOutput(x.shape, 'float32');
    const dgamma = backend.makeOutput([d], 'float32');
    const dbeta = backend.makeOutput([d], 'float32');
    countFusedCall(BACKWARD);
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    const off = (t: tf.TensorInfo) => offsetOf(backend, t) / 4;
    addon.layerNormGrad(heap, off(x), off(inputs['gamma'] as tf.TensorInfo), off(inputs['dy'] as tf.TensorInfo), off(dx), off(dgamma), off(dbeta), rows, d, (attrs as { eps: number }).eps);
    return [dx, dgamma, dbeta];
  });
}

/**
 * (x - mean) / sqrt(var + eps) * gamma + beta over the last axis (biased variance, as torch),
 * natively; undefined when the fused kernels do not apply (no addon, not wasm, not float32,
 * gamma/beta not [d]): the caller then runs the tfjs composition.
 */
export function nativeLayerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor | undefined {
  const addon = fusedOpsAddon(x);
  const d = x.shape[x.shape.length - 1];
  if (addon === undefined || x.rank === 0 || d === 0 || gamma.dtype !== 'float32' || beta.dtype !== 'float32' || gamma.size !== d || beta.size !== d) return undefined;
  register(addon);
  const attrs = { eps } as unknown as tf.NamedAttrMap;
  const f = tf.customGrad(((input: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input, g]);
    return {
      value: tf.engine().runKernel(FORWARD, { x: input, gamma: g, beta: b }, attrs) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg] = saved;
        const grads = tf.engine().runKernel(BACKWARD, { x: sx, gamma: sg, dy: dy.dtype === 'float32' ? dy : tf.cast(dy, 'float32') }, attrs) as tf.Tensor[];
        return [grads[0], tf.reshape(grads[1], g.shape), tf.reshape(grads[2], b.shape)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x, gamma, beta);
}
