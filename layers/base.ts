/**
 * Common base of our custom tfjs layers: parameters are created eagerly (in the
 * constructor, so a model can be loaded without tracing a `call`) and every layer
 * reports them by Hugging Face state-dict name.
 */
import { tf } from '../core/tf.js';
import type { Rng } from '../core/random.js';
import { PolyglotError } from '../core/errors.js';

/** One parameter, by its HF name; `transposed` = stored [in, out] while HF stores [out, in]. */
export interface HfParameter {
  name: string;
  variable: tf.LayerVariable;
  transposed: boolean;
}

/** Options every forward `run` takes: with `training: false` nothing is random. */
export interface RunOptions {
  training: boolean;
  rng?: Rng;
}

export type InitName = 'zeros' | 'ones';

/**
 * Supplies a parameter's initial value at construction (e.g. read from a checkpoint), so the
 * variable is created from it directly: no placeholder allocation, one copy of each weight in
 * memory (a 564M-parameter model loads without a second 2.3 GB of zeros). Returns undefined for
 * "use the default". The tensor must have the stored shape (transposed already) and is owned by
 * the variable afterwards.
 */
export type InitialValueProvider = (hfName: string, shape: number[], transposed: boolean) => tf.Tensor | undefined;

let activeProvider: InitialValueProvider | undefined;

/** Runs `build` (which constructs layers) with `provider` supplying initial parameter values. */
export function withInitialValues<R>(provider: InitialValueProvider, build: () => R): R {
  const previous = activeProvider;
  activeProvider = provider;
  try {
    return build();
  } finally {
    activeProvider = previous;
  }
}

/**
 * Layers hold their parameters as tf.LayerVariables (addWeight: trainable, disposable, what the
 * optimizer and the HF reader/writer use) and compute in `run<T>(o: Ops<T>, ...)`. They are not
 * registered with tf.serialization and have no getConfig/fromConfig: a model is built from HF's
 * config.json by its registry entry and saved as an HF directory, never as tfjs-layers JSON, so a
 * second serialization path would be untested surface (issue 8's layers decision).
 */
export abstract class PolyglotLayer extends tf.layers.Layer {
  /** tf.layers names each instance after its class name (`polyglot_layer_N`). */
  static className = 'PolyglotLayer';
  private readonly ownParams: HfParameter[] = [];

  /** Creates a float32 variable named after the HF parameter. Initial values are cheap
   * constants: checkpoint loading overwrites them, `initNormal` does HF-style random init. */
  protected addHfWeight(hfName: string, shape: number[], transposed: boolean, init: InitName = 'zeros'): tf.LayerVariable {
    let initializer = init === 'zeros' ? tf.initializers.zeros() : tf.initializers.ones();
    const provided = activeProvider?.(hfName, shape, transposed);
    if (provided) {
      if (provided.shape.join() !== shape.join() || provided.dtype !== 'float32') {
        const found = `${provided.dtype} [${provided.shape.join(', ')}]`;
        provided.dispose();
        throw new PolyglotError(`${hfName}: initial value must be float32 [${shape.join(', ')}], found ${found}`);
      }
      // addWeight makes the variable share this tensor's data, then disposes our handle.
      initializer = { apply: () => provided } as unknown as typeof initializer;
    }
    const v = this.addWeight(hfName, shape, 'float32', initializer, undefined, true);
    this.ownParams.push({ name: hfName, variable: v, transposed });
    this.built = true;
    return v;
  }

  /** Removes (and disposes) one of this layer's parameters: its value now lives elsewhere (int8 in native memory). */
  protected dropHfWeight(v: tf.LayerVariable): void {
    const i = this.ownParams.findIndex((p) => p.variable === v);
    if (i >= 0) this.ownParams.splice(i, 1);
    v.dispose();
  }

  /** This layer's parameters followed by its sub-layers'. */
  hfParameters(): HfParameter[] {
    return [...this.ownParams, ...this.subLayers().flatMap((l) => l.hfParameters())];
  }

  /** Sub-layers whose parameters belong to this one (composite layers override). */
  protected subLayers(): PolyglotLayer[] {
    return [];
  }

  /** Disposes the variables of this layer and its sub-layers. */
  disposeParameters(): void {
    for (const p of this.hfParameters()) p.variable.dispose();
  }
}
