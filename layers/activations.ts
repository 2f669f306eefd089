/** HF ACT2FN by name: the activations XGLM / NLLB-MoE configs use. */
import { PolyglotError } from '../core/errors.js';
import type { Ops } from '../ops/ops.js';

export const ACTIVATION_NAMES = ['gelu', 'gelu_new', 'relu', 'silu', 'swish'] as const;
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

export function applyActivation<T>(o: Ops<T>, name: ActivationName, x: T): T {
  switch (name) {
    case 'gelu':
      // HF GELUActivation: exact, 0.5 x (1 + erf(x / sqrt 2)).
      return o.mul(o.mul(x, o.scalar(0.5)), o.add(o.scalar(1), o.erf(o.mul(x, o.scalar(Math.SQRT1_2)))));
    case 'gelu_new': {
      // HF NewGELUActivation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
      const inner = o.mul(o.scalar(Math.sqrt(2 / Math.PI)), o.add(x, o.mul(o.scalar(0.044715), o.mul(o.square(x), x))));
      return o.mul(o.mul(x, o.scalar(0.5)), o.add(o.scalar(1), o.tanh(inner)));
    }
    case 'relu':
      return o.relu(x);
    case 'silu':
    case 'swish':
      return o.mul(x, o.sigmoid(x));
    default: {
      const never: never = name;
      throw new PolyglotError(`activation: unknown name ${JSON.stringify(never)}`);
    }
  }
}
