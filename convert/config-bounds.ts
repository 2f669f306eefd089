/**
 * Upper bounds for the size fields of a config.json, checked before anything is allocated: a
 * config drives allocation (layers, experts, embedding tables, the sinusoidal position table),
 * so `num_layers: 1e9` must be one line, not a process growing until it dies. The bounds are far
 * above every released XGLM / NLLB checkpoint (largest: vocab 256206, d_model 2048, ffn 8192,
 * 48 layers, 128 experts, 2048 positions).
 */
import { PolyglotError } from '../core/errors.js';

const BOUNDS: Record<string, number> = {
  vocab_size: 1 << 22,
  d_model: 1 << 16,
  hidden_size: 1 << 16,
  ffn_dim: 1 << 18,
  encoder_ffn_dim: 1 << 18,
  decoder_ffn_dim: 1 << 18,
  num_layers: 1024,
  num_hidden_layers: 1024,
  encoder_layers: 1024,
  decoder_layers: 1024,
  attention_heads: 1024,
  encoder_attention_heads: 1024,
  decoder_attention_heads: 1024,
  num_experts: 4096,
  max_position_embeddings: 1 << 16,
};

/** Elements of one embedding table (vocab_size x d_model) past this cannot be a float32 tfjs tensor. */
const MAX_EMBEDDING_ELEMENTS = 2 ** 31 - 1;

/** Throws a PolyglotError naming the field when a size field of `json` is past its bound. */
export function checkConfigBounds(json: unknown, source: string): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return; // the parser names it
  const j = json as Record<string, unknown>;
  for (const [key, max] of Object.entries(BOUNDS)) {
    const v = j[key];
    if (typeof v === 'number' && v > max) throw new PolyglotError(`${source}: field "${key}": expected at most ${max} (far above any released checkpoint), found ${v}`);
  }
  const vocab = j.vocab_size;
  const d = j.d_model ?? j.hidden_size;
  if (typeof vocab === 'number' && typeof d === 'number' && vocab * d > MAX_EMBEDDING_ELEMENTS) {
    throw new PolyglotError(`${source}: fields "vocab_size" x "d_model": an embedding table of ${vocab} x ${d} elements is past the ${MAX_EMBEDDING_ELEMENTS}-element limit of one tensor`);
  }
}
