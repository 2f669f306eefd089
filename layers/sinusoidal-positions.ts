/**
 * The fairseq/HF sinusoidal position table (XGLMSinusoidalPositionalEmbedding,
 * NllbMoeSinusoidalPositionalEmbedding): `num_positions + offset` rows (offset 2),
 * row r = [sin(r f_0..f_{h-1}), cos(r f_0..f_{h-1})] (sin half first),
 * f_i = exp(-i ln(10000) / (h - 1)), h = d // 2, a zero last column when d is odd,
 * row `padding_idx` all zeros. Computed in float32 step by step like torch does, since
 * rounding of the angles is visible at the fixtures' tolerances. Not a parameter
 * (HF: non-persistent buffer). The table grows when longer sequences arrive.
 *
 * Models compute their own row ids: XGLM uses position_ids + offset; NLLB-MoE uses
 * `positionIdsFromInputIds` (which already includes padding_idx + 1).
 */
import { tf } from '../core/tf.js';
import type { Dim, Ops } from '../ops/ops.js';

export const POSITION_OFFSET = 2;

/** The HF table as host float32 data, [numRows, dim]. */
/** f_i for i < dim // 2 as torch computes them: exp(arange(half).float() * -emb), emb = ln(10000)/(half-1) in float32. */
export function sinusoidalFrequencies(dim: number): Float32Array {
  const f = Math.fround;
  const half = Math.floor(dim / 2);
  const negEmb = f(-Math.log(10000) / (half - 1));
  return Float32Array.from({ length: half }, (_, i) => f(Math.exp(f(i * negEmb))));
}

export function sinusoidalTable(numRows: number, dim: number, paddingIdx: number | null): Float32Array {
  const f = Math.fround;
  const half = Math.floor(dim / 2);
  const out = new Float32Array(numRows * dim);
  const freqs = sinusoidalFrequencies(dim);
  for (let r = 0; r < numRows; r++) {
    if (r === paddingIdx) continue;
    const base = r * dim;
    for (let i = 0; i < half; i++) {
      const angle = f(r * freqs[i]);
      out[base + i] = Math.sin(angle);
      out[base + half + i] = Math.cos(angle);
    }
  }
  return out;
}

export interface SinusoidalPositionsConfig {
  /** max_position_embeddings: the table starts with numPositions + offset rows. */
  numPositions: number;
  dim: number;
  paddingIdx: number | null;
  offset?: number;
  /** Name the table is registered under in exported graphs (not an HF parameter). */
  name?: string;
}

export class SinusoidalPositions {
  readonly cfg: Required<SinusoidalPositionsConfig>;
  private tableTensor: tf.Tensor2D;

  constructor(cfg: SinusoidalPositionsConfig) {
    this.cfg = { offset: POSITION_OFFSET, name: 'embed_positions.weights', ...cfg };
    this.tableTensor = this.makeTable(this.cfg.numPositions + this.cfg.offset);
  }

  get numRows(): number {
    return this.tableTensor.shape[0];
  }

  private makeTable(rows: number): tf.Tensor2D {
    return tf.keep(tf.tensor2d(sinusoidalTable(rows, this.cfg.dim, this.cfg.paddingIdx), [rows, this.cfg.dim], 'float32'));
  }

  /**
   * Makes sure row ids below `maxRowExclusive` exist. HF regrows to `max_pos + offset` rows
   * when `padding_idx + 1 + seq_len + past_len` exceeds the table; rows do not depend on the
   * table size, so growing to any sufficient size gives identical values.
   */
  ensureRows(maxRowExclusive: number): void {
    if (maxRowExclusive <= this.numRows) return;
    const old = this.tableTensor;
    this.tableTensor = this.makeTable(maxRowExclusive + this.cfg.offset);
    old.dispose();
  }

  /** The table as an Ops value (a constant in exported graphs). */
  table<T>(o: Ops<T>): T {
    return o.weight(this.cfg.name, this.tableTensor);
  }

  /**
   * Table rows for row ids [...] (int32) -> [..., dim]. Exported graphs compute the rows from
   * the ids with the table's own float32 formula instead of embedding a fixed table, so they
   * accept any length (HF grows its table) and carry no (max_positions x d) constant.
   */
  lookupRows<T>(o: Ops<T>, rowIds: T): T {
    if (o.kind === 'eager') return o.gather(this.table(o), rowIds, 0);
    const { dim, paddingIdx } = this.cfg;
    const freqs = sinusoidalFrequencies(dim);
    const ids = o.dtype(rowIds) === 'int32' ? rowIds : o.cast(rowIds, 'int32');
    const r = o.expandDims(o.cast(ids, 'float32'), o.rank(ids)); // [..., 1]
    const angles = o.mul(r, o.constant(freqs, [freqs.length])); // float32 r * f_i, as torch computes the table
    const parts = [o.sin(angles), o.cos(angles)];
    if (dim % 2 === 1) parts.push(o.mul(r, o.scalar(0))); // HF's zero column for odd d_model
    let rows = o.concat(parts, o.rank(ids));
    if (paddingIdx !== null) {
      // the padding row is all zeros
      rows = o.mul(rows, o.expandDims(o.cast(o.notEqual(ids, o.scalar(paddingIdx, 'int32')), 'float32'), o.rank(ids)));
    }
    return rows;
  }

  /** XGLM: rows for position ids (0-based) -> position_ids + offset. */
  lookupPositions<T>(o: Ops<T>, positionIds: T): T {
    const ids = o.dtype(positionIds) === 'int32' ? positionIds : o.cast(positionIds, 'int32');
    return this.lookupRows(o, o.add(ids, o.scalar(this.cfg.offset, 'int32')));
  }

  dispose(): void {
    this.tableTensor.dispose();
  }
}

/** HF default position ids: arange(past, past + T) for every row, [1, T] (broadcast over the batch). */
export function defaultPositionIds<T>(o: Ops<T>, pastLength: Dim<T>, length: Dim<T>): T {
  return o.expandDims(o.range(pastLength, o.dimAdd(pastLength, length)), 0);
}

/**
 * fairseq / M2M100 / NLLB `create_position_ids_from_input_ids`: table row ids
 * (cumsum(ids != pad) + past) * (ids != pad) + padding_idx, so padding maps to the zero row.
 */
export function positionIdsFromInputIds<T>(o: Ops<T>, inputIds: T, paddingIdx: number, pastLength: Dim<T>): T {
  const ids = o.dtype(inputIds) === 'int32' ? inputIds : o.cast(inputIds, 'int32');
  const mask = o.cast(o.notEqual(ids, o.scalar(paddingIdx, 'int32')), 'int32');
  const past = typeof pastLength === 'number' ? o.scalar(pastLength, 'int32') : pastLength;
  const incremental = o.mul(o.add(o.cumsum(mask, 1), past), mask);
  return o.add(incremental, o.scalar(paddingIdx, 'int32'));
}
