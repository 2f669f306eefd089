/**
 * Key/value buffers for the fused attention path (eager, native wasm only): room for `rows`
 * rows on axis 2 of a [B, heads, rows, head_dim] cache. A session's buffer (`length` set, data
 * not shared with another tensor) with room is reused as is: the kernel writes the new rows in
 * place, so a decode step copies only its own keys/values. Otherwise a copy with room is made
 * (one pad per tensor): a session's grows to twice its length, so over a generation the copies
 * add up to about one cache; a caller's exact cache is copied to exactly `rows` and never written.
 */
import { tf } from '../core/tf.js';
import { ownsData } from '../backend/native-attention.js';

export interface KvTensors {
  key: tf.Tensor;
  value: tf.Tensor;
  length?: number;
}

let inPlace = true;

/** The attention bench compares appending in place with copying the cache every step (as concat does). */
export function setInPlaceAppend(on: boolean): void {
  inPlace = on;
}

/** Buffers holding `kv`'s rows in use with room for `rows` rows; the same tensors when they can be written in place. */
export function reserveRows(kv: KvTensors, rows: number): { key: tf.Tensor; value: tf.Tensor } {
  const capacity = kv.key.shape[2]!;
  const owned = inPlace && kv.length !== undefined;
  if (owned && capacity >= rows && ownsData(kv.key) && ownsData(kv.value)) return { key: kv.key, value: kv.value };
  const target = owned ? Math.max(rows, 2 * (kv.length ?? 0)) : rows;
  const grow = (t: tf.Tensor): tf.Tensor => {
    const used = kv.length ?? capacity;
    // Rows past `length` are stale: keep only the ones in use, then pad to the target.
    const kept = used === capacity ? t : tf.slice(t, [0, 0, 0, 0], [-1, -1, used, -1]);
    const out = tf.pad(kept, [
      [0, 0],
      [0, 0],
      [0, target - used],
      [0, 0],
    ]);
    if (kept !== t) kept.dispose();
    return out;
  };
  return { key: grow(kv.key), value: grow(kv.value) };
}

/**
 * A self-attention step of `tq` new rows on cache `kv`: the rows in use before it (`length`), the
 * buffers to append into (`reserveRows`), and the cache to hand on afterwards (a session's buffer
 * keeps its `length`; a caller's exact cache stays exact, length unset).
 */
export function appendStep(kv: KvTensors, tq: number): { length: number; key: tf.Tensor; value: tf.Tensor; present: KvTensors } {
  const length = kv.length ?? kv.key.shape[2]!;
  const { key, value } = reserveRows(kv, length + tq);
  return { length, key, value, present: kv.length === undefined ? { key, value } : { key, value, length: length + tq } };
}
