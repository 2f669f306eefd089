/**
 * HF `shift_tokens_right(labels, pad_token_id, decoder_start_token_id)` (modeling_m2m_100 /
 * nllb_moe): decoder inputs are the labels moved one step right, starting with
 * decoder_start (`</s>` = 2 for NLLB), with -100 replaced by pad.
 */
export function shiftTokensRight(labels: Int32Array, shape: [number, number], padId: number, decoderStartId: number): Int32Array {
  const [B, T] = shape;
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    out[b * T] = decoderStartId;
    for (let t = 1; t < T; t++) {
      const v = labels[b * T + t - 1];
      out[b * T + t] = v === -100 ? padId : v;
    }
  }
  return out;
}
