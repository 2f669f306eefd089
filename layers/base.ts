/**
 * Common base of our custom tfjs layers: parameters are created eagerly (in the
 * constructor, so a model can be loaded without tracing a `call`) and every layer
 * reports them by Hugging Face state-dict name.
 */
import { tf } from '../core/tf.js';
import type { Rng } from '../core/random.js';

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

export abstract class PolyglotLayer extends tf.layers.Layer {
  private readonly ownParams: HfParameter[] = [];

  /** Creates a float32 variable named after the HF parameter. Initial values are cheap
   * constants: checkpoint loading overwrites them, `initNormal` does HF-style random init. */
  protected addHfWeight(hfName: string, shape: number[], transposed: boolean, init: InitName = 'zeros'): tf.LayerVariable {
    const initializer = init === 'zeros' ? tf.initializers.zeros() : tf.initializers.ones();
    const v = this.addWeight(hfName, shape, 'float32', initializer, undefined, true);
    this.ownParams.push({ name: hfName, variable: v, transposed });
    this.built = true;
    return v;
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
