/**
 * A warning, once per run, when a sequence goes past config.json's max_position_embeddings.
 * XGLM, NLLB-MoE and M2M-100 use sinusoidal positions that Hugging Face extends on demand
 * (layers/sinusoidal-positions.ts `ensureRows`, docs/NLLB-MOE.md section 1), so nothing fails;
 * but the model never saw those positions in training, which the user should know.
 */
let warned = false;

/** Warns (stderr, once; also with --quiet) when `what` has more than `limit` tokens. */
export function warnPastPositionLimit(what: string, length: number, limit: number): void {
  if (warned || length <= limit) return;
  warned = true;
  process.stderr.write(
    `warning: ${what} has ${length} tokens, more than the model's max_position_embeddings (${limit}, config.json): ` +
      `the sinusoidal position table is extended as Hugging Face does, but the model was not trained on such positions and its output may degrade\n`,
  );
}
