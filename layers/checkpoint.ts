/**
 * Gradient checkpointing for one block (torch.utils.checkpoint, HF gradient_checkpointing_enable):
 * forward runs the block with the tape off, so none of its intermediates stay alive; backward
 * recomputes the block from its saved inputs and differentiates that (tf.customGrad). Peak
 * activation memory becomes one block's worth plus each block's input.
 *
 * Randomness must repeat in the recomputation: the block runs with a fresh Rng seeded from one
 * draw of the caller's, in forward and again in backward (LoRA adapters seed their dropout per
 * forward, layers/lora.ts, so they repeat too).
 */
import { tf } from '../core/tf.js';
import { Rng } from '../core/random.js';
import type { GradientCheckpointing } from '../core/gradient-checkpointing.js';

/** The trained variables of the block named `prefix` (its HF module path). */
export function trainedVariablesOf(policy: GradientCheckpointing, prefix: string): tf.Variable[] {
  return policy.trained.filter((p) => p.name.startsWith(`${prefix}.`)).map((p) => p.variable);
}

/**
 * `block(xs, constants, rng)` -> output, run checkpointed. `xs` are the float inputs gradients flow
 * back into (hidden states); `constants` are tensors the block reads but needs no gradient for
 * (attention masks); `params` the block's trained variables.
 */
export function checkpointed(
  block: (xs: tf.Tensor[], constants: tf.Tensor[], rng: Rng | undefined) => tf.Tensor,
  xs: tf.Tensor[],
  constants: tf.Tensor[],
  params: tf.Variable[],
  rng: Rng | undefined,
): tf.Tensor {
  const seed = rng?.nextSeed();
  const freshRng = () => (seed === undefined ? undefined : new Rng(seed));
  const nx = xs.length;
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const inputs = args.slice(0, nx) as tf.Tensor[];
    save([...inputs, ...constants]);
    const value = block(inputs, constants, freshRng());
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const savedXs = saved.slice(0, nx);
        const savedConstants = saved.slice(nx);
        // A gradient inside backward: tfjs starts a fresh tape for it and clears the engine's active
        // tape when done, which the outer backward still walks afterwards; keep and restore it.
        const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
        const outerTape = state.activeTape;
        let result: { value: tf.Tensor; grads: tf.Tensor[] };
        try {
          result = tf.engine().gradients(() => block(savedXs, savedConstants, freshRng()), [...savedXs, ...params], dy, true) as { value: tf.Tensor; grads: tf.Tensor[] };
        } finally {
          state.activeTape = outerTape;
        }
        const { value: recomputed, grads } = result;
        recomputed.dispose();
        return grads.map((g, i) => g ?? tf.zerosLike(i < nx ? savedXs[i] : params[i - nx]));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(...xs, ...params);
}
