/**
 * The words for a sequence longer than config.json's max_position_embeddings. XGLM, NLLB-MoE
 * and M2M-100 use sinusoidal positions that Hugging Face extends on demand
 * (layers/sinusoidal-positions.ts `ensureRows`, docs/NLLB-MOE.md section 1), so nothing fails;
 * but the model never saw those positions in training, which the user should know.
 */

/** config.json's max_position_embeddings, or Infinity when absent. */
export function maxPositionsOf(config: object): number {
  const limit = Number((config as { max_position_embeddings?: unknown }).max_position_embeddings);
  return Number.isFinite(limit) && limit > 0 ? limit : Infinity;
}

export function pastPositionLimitMessage(what: string, length: number, limit: number): string {
  return (
    `${what} has ${length} tokens, more than the model's max_position_embeddings (${limit}, config.json): ` +
    `the sinusoidal position table is extended as Hugging Face does, but the model was not trained on such positions and its output may degrade`
  );
}

/** The longest row (columns) of a batch's [rows, length] arrays. */
export function batchWidth(arrays: Record<string, { shape: readonly number[] }>): number {
  let width = 0;
  for (const a of Object.values(arrays)) width = Math.max(width, a.shape[1] ?? 0);
  return width;
}
