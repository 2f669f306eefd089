/**
 * HF ACT2FN by name (transformers/activations.py): every parameter-free activation a
 * config's `activation_function` may name. (`prelu` has a weight and is not offered.)
 */
import type { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import type { Ops } from '../ops/ops.js';
import { eagerOps } from '../ops/eager.js';
import { nativeGelu, type GeluForm } from '../backend/native-gelu.js';

export const ACTIVATION_NAMES = [
  'gelu', 'gelu_new', 'relu', 'silu', 'swish', 'gelu_python', 'gelu_pytorch_tanh', 'gelu_accurate', 'gelu_fast',
  'quick_gelu', 'gelu_10', 'laplace', 'leaky_relu', 'linear', 'mish', 'relu2', 'relu6', 'sigmoid', 'tanh',
] as const;
export type ActivationName = (typeof ACTIVATION_NAMES)[number];

export function isActivationName(name: string): name is ActivationName {
  return (ACTIVATION_NAMES as readonly string[]).includes(name);
}

/** Throws a PolyglotError naming `where` (e.g. "config.json: activation_function") for an unknown name. */
export function checkActivationName(name: string, where = 'activation_function'): ActivationName {
  if (!isActivationName(name)) {
    throw new PolyglotError(`${where}: expected one of ${ACTIVATION_NAMES.join(', ')}, found ${JSON.stringify(name)}`);
  }
  return name;
}

/** HF GELUActivation: exact, 0.5 x (1 + erf(x / sqrt 2)). */
function exactGelu<T>(o: Ops<T>, x: T): T {
  return o.mul(o.mul(x, o.scalar(0.5)), o.add(o.scalar(1), o.erf(o.mul(x, o.scalar(Math.SQRT1_2)))));
}

/** 0.5 x (1 + tanh(c (x + 0.044715 x^3))): HF's tanh approximations differ only in how c is written. */
function tanhGelu<T>(o: Ops<T>, x: T, c: number): T {
  const inner = o.mul(o.scalar(c), o.add(x, o.mul(o.scalar(0.044715), o.mul(o.square(x), x))));
  return o.mul(o.mul(x, o.scalar(0.5)), o.add(o.scalar(1), o.tanh(inner)));
}

/** The GELUs the native kernel computes (eager only), by name. */
export function geluForm(name: ActivationName): GeluForm | undefined {
  switch (name) {
    case 'gelu':
    case 'gelu_python':
      return { kind: 'erf' };
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_accurate':
      return { kind: 'tanh', c: Math.sqrt(2 / Math.PI) };
    case 'gelu_fast':
      return { kind: 'tanh', c: 0.7978845608 };
    default:
      return undefined;
  }
}

export function applyActivation<T>(o: Ops<T>, name: ActivationName, x: T): T {
  const form = (o as unknown) === eagerOps ? geluForm(name) : undefined;
  if (form !== undefined) {
    // Eager on the native path: one fused kernel instead of five to seven tfjs ops (backend/native-gelu.ts).
    const fused = nativeGelu(x as unknown as tf.Tensor, form);
    if (fused !== undefined) return fused as unknown as T;
  }
  switch (name) {
    case 'gelu':
    case 'gelu_python':
      return exactGelu(o, x);
    case 'gelu_new': // NewGELUActivation
    case 'gelu_pytorch_tanh': // F.gelu(approximate="tanh")
    case 'gelu_accurate': // AccurateGELUActivation
      return tanhGelu(o, x, Math.sqrt(2 / Math.PI));
    case 'gelu_fast': // FastGELUActivation writes sqrt(2/pi) as 0.7978845608
      return tanhGelu(o, x, 0.7978845608);
    case 'quick_gelu': // QuickGELUActivation: x sigmoid(1.702 x)
      return o.mul(x, o.sigmoid(o.mul(o.scalar(1.702), x)));
    case 'gelu_10': // ClippedGELUActivation(-10, 10)
      return o.minimum(o.maximum(exactGelu(o, x), o.scalar(-10)), o.scalar(10));
    case 'laplace': {
      // LaplaceActivation: 0.5 (1 + erf((x - mu) / (sigma sqrt 2))), mu 0.707107, sigma 0.282095
      const z = o.div(o.sub(x, o.scalar(0.707107)), o.scalar(0.282095 * Math.SQRT2));
      return o.mul(o.scalar(0.5), o.add(o.scalar(1), o.erf(z)));
    }
    case 'leaky_relu': // nn.LeakyReLU default slope 0.01
      return o.maximum(x, o.mul(x, o.scalar(0.01)));
    case 'linear':
      return x;
    case 'mish': {
      // x tanh(softplus(x)), softplus written stably: max(x, 0) + log(1 + exp(-|x|))
      const softplus = o.add(o.relu(x), o.log(o.add(o.scalar(1), o.exp(o.neg(o.abs(x))))));
      return o.mul(x, o.tanh(softplus));
    }
    case 'relu':
      return o.relu(x);
    case 'relu2': // ReLUSquaredActivation
      return o.square(o.relu(x));
    case 'relu6':
      return o.minimum(o.relu(x), o.scalar(6));
    case 'sigmoid':
      return o.sigmoid(x);
    case 'tanh':
      return o.tanh(x);
    case 'silu':
    case 'swish':
      return o.mul(x, o.sigmoid(x));
    default: {
      const never: never = name;
      throw new PolyglotError(`activation: unknown name ${JSON.stringify(never)}`);
    }
  }
}
