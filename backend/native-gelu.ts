/**
 * GELU as one native kernel (`PolyglotGelu`, native/src/norm*): the exact form
 * 0.5 x (1 + erf(x / sqrt 2)) (erf to ~3e-7, a rational approximation) or the tanh form
 * 0.5 x (1 + tanh(c (x + 0.044715 x^3))), one call instead of tfjs' five to seven. The
 * derivative (`PolyglotGeluGrad`) comes through `tf.customGrad` (under gradient tapes only when
 * asked: POLYGLOT_FUSED_OPS=train, see native-fused.ts).
 */
import { tf } from '../core/tf.js';
import { asWasmBackend, offsetOf } from './wasm-backend.js';
import { countFusedCall, fusedOpsAddon, registerFusedKernel } from './native-fused.js';
import type { NativeAddon } from './native.js';

const FORWARD = 'PolyglotGelu';
const BACKWARD = 'PolyglotGeluGrad';

/** 'erf': exact GELU; 'tanh': the tanh approximation with coefficient c (sqrt(2/pi) as HF writes it). */
export type GeluForm = { kind: 'erf' } | { kind: 'tanh'; c: number };

interface GeluAttrs {
  kind: 0 | 1;
  c: number;
}

function register(addon: NativeAddon): void {
  registerFusedKernel(FORWARD, ({ inputs, backend: b, attrs }) => {
    const backend = asWasmBackend(b);
    const x = inputs['x'] as tf.TensorInfo;
    const y = backend.makeOutput(x.shape, 'float32');
    countFusedCall(FORWARD);
    const { kind, c } = attrs as unknown as GeluAttrs;
    addon.gelu(backend.wasm.HEAPU8.buffer as ArrayBuffer, offsetOf(backend, x) / 4, offsetOf(backend, y) / 4, x.shape.reduce((p, q) => p * q, 1), kind, c);
    return y;
  });
  registerFusedKernel(BACKWARD, ({ inputs, backend: b, attrs }) => {
    const backend = asWasmBackend(b);
    const x = inputs['x'] as tf.TensorInfo;
    const dx = backend.makeOutput(x.shape, 'float32');
    countFusedCall(BACKWARD);
    const { kind, c } = attrs as unknown as GeluAttrs;
    const off = (t: tf.TensorInfo) => offsetOf(backend, t) / 4;
    addon.geluGrad(backend.wasm.HEAPU8.buffer as ArrayBuffer, off(x), off(inputs['dy'] as tf.TensorInfo), off(dx), x.shape.reduce((p, q) => p * q, 1), kind, c);
    return dx;
  });
}

/** gelu(x) natively, or undefined when the fused kernels do not apply (the caller runs the tfjs composition). */
export function nativeGelu(x: tf.Tensor, form: GeluForm): tf.Tensor | undefined {
  const addon = fusedOpsAddon(x);
  if (addon === undefined) return undefined;
  register(addon);
  const attrs = (form.kind === 'erf' ? { kind: 0, c: 0 } : { kind: 1, c: form.c }) as unknown as tf.NamedAttrMap;
  const f = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    save([input]);
    return {
      value: tf.engine().runKernel(FORWARD, { x: input }, attrs) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(BACKWARD, { x: saved[0], dy: dy.dtype === 'float32' ? dy : tf.cast(dy, 'float32') }, attrs) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}
