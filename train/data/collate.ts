/**
 * Building the trainer's batches (train/batch.ts HostBatch, HF input names) from token ids:
 * padded causal-LM rows, packed causal-LM blocks, and seq2seq pairs.
 */
import { PolyglotError } from '../../core/errors.js';
import type { HostBatch } from '../batch.js';
import { shiftTokensRight } from './shift.js';

export const IGNORE_INDEX = -100;

function padRows(rows: number[][], T: number, padId: number, side: 'left' | 'right', labelPad: boolean) {
  const B = rows.length;
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Int32Array(B * T);
  const labels = new Int32Array(B * T).fill(IGNORE_INDEX);
  let real = 0;
  rows.forEach((r, i) => {
    if (r.length > T) throw new PolyglotError(`collate: row of ${r.length} ids does not fit length ${T}`);
    const off = i * T + (side === 'left' ? T - r.length : 0);
    ids.set(r, off);
    mask.fill(1, off, off + r.length);
    if (labelPad) labels.set(r, off);
    real += r.length;
  });
  return { ids, mask, labels, real };
}

/**
 * Causal LM, one example a row: input_ids padded with pad (1), attention_mask, labels = input_ids
 * with -100 on padding (XGLMForCausalLM shifts labels itself, HF >= 4.46).
 */
export function collateCausal(rows: number[][], opts: { padId: number; side?: 'left' | 'right'; padToMultipleOf?: number }): HostBatch {
  if (rows.length === 0) throw new PolyglotError('collate: empty batch');
  let T = Math.max(...rows.map((r) => r.length));
  const m = opts.padToMultipleOf ?? 1;
  T = Math.ceil(T / m) * m;
  const { ids, mask, labels, real } = padRows(rows, T, opts.padId, opts.side ?? 'right', true);
  const shape = [rows.length, T];
  const targets = rows.reduce((s, r) => s + Math.max(0, r.length - 1), 0);
  return {
    arrays: { input_ids: { data: ids, shape }, attention_mask: { data: mask, shape }, labels: { data: labels, shape } },
    tokens: real,
    targets,
  };
}

/** Packed causal LM: equal-length blocks, no padding; labels = input_ids. */
export function collateBlocks(blocks: number[][]): HostBatch {
  if (blocks.length === 0) throw new PolyglotError('collate: empty batch');
  const T = blocks[0].length;
  const ids = new Int32Array(blocks.length * T);
  blocks.forEach((b, i) => {
    if (b.length !== T) throw new PolyglotError(`collate: packed block ${i} has ${b.length} ids, expected ${T}`);
    ids.set(b, i * T);
  });
  const shape = [blocks.length, T];
  return {
    arrays: { input_ids: { data: ids, shape }, attention_mask: { data: new Int32Array(ids.length).fill(1), shape }, labels: { data: ids.slice(), shape } },
    tokens: ids.length,
    targets: blocks.length * (T - 1),
  };
}

/**
 * Concatenates documents (each already `</s> doc` as XGLMTokenizer encodes it, so documents are
 * separated by `</s>`) and cuts blocks of `blockSize`; the remainder is dropped, like HF
 * run_clm's `group_texts` on each map batch.
 */
export function packDocuments(docs: number[][], blockSize: number): number[][] {
  const stream: number[] = [];
  for (const d of docs) for (const t of d) stream.push(t);
  const blocks: number[][] = [];
  for (let s = 0; s + blockSize <= stream.length; s += blockSize) blocks.push(stream.slice(s, s + blockSize));
  return blocks;
}

export interface Seq2SeqExample {
  inputIds: number[];
  labels: number[];
}

/**
 * Seq2seq (DataCollatorForSeq2Seq): encoder input_ids / attention_mask padded with pad, labels padded
 * with -100, decoder_input_ids = shift_tokens_right(labels, pad, decoder_start).
 */
export function collateSeq2Seq(
  examples: Seq2SeqExample[],
  opts: { padId: number; decoderStartId: number; side?: 'left' | 'right'; decoderAttentionMask?: boolean },
): HostBatch {
  if (examples.length === 0) throw new PolyglotError('collate: empty batch');
  const side = opts.side ?? 'right';
  const S = Math.max(...examples.map((e) => e.inputIds.length));
  const T = Math.max(...examples.map((e) => e.labels.length));
  const enc = padRows(examples.map((e) => e.inputIds), S, opts.padId, side, false);
  // labels always pad on the right (decoder inputs are built from them)
  const dec = padRows(examples.map((e) => e.labels), T, IGNORE_INDEX, 'right', true);
  const B = examples.length;
  const decoderInputIds = shiftTokensRight(dec.labels, [B, T], opts.padId, opts.decoderStartId);
  const arrays: HostBatch['arrays'] = {
    input_ids: { data: enc.ids, shape: [B, S] },
    attention_mask: { data: enc.mask, shape: [B, S] },
    labels: { data: dec.labels, shape: [B, T] },
    decoder_input_ids: { data: decoderInputIds, shape: [B, T] },
  };
  if (opts.decoderAttentionMask) arrays.decoder_attention_mask = { data: dec.mask, shape: [B, T] };
  return { arrays, tokens: enc.real + dec.real, targets: dec.real };
}
