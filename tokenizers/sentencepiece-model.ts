/**
 * Reads the piece list of a sentencepiece `.model` file (a serialized `ModelProto`):
 * `sentencepiece-js` can encode but has no id -> piece lookup, which decoding and
 * `convertIdsToTokens` need. Only field 1 (`repeated SentencePiece pieces`, each
 * `{1: piece, 2: score, 3: type}`) is read; normalisation and segmentation stay with sentencepiece.
 */
import { PolyglotError } from '../core/errors.js';
import { readRegularFile } from '../convert/model-file.js';

/** Sentencepiece model files past this are refused (real ones are a few MB; NLLB's is 4.8 MB). */
export const MAX_SENTENCEPIECE_BYTES = 64 * 1024 * 1024;

/** sentencepiece `SentencePiece.Type`. */
export const enum PieceType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

export interface SpmPiece {
  piece: string;
  score: number;
  type: PieceType;
}

class ProtoReader {
  pos = 0;
  constructor(readonly buf: Uint8Array, readonly source: string) {}

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new PolyglotError(`${this.source}: truncated protobuf varint at byte ${this.pos}`);
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new PolyglotError(`${this.source}: malformed protobuf varint at byte ${this.pos}`);
  }

  /** Skips a field's payload of the given wire type; returns [start, end) for length-delimited ones. */
  payload(wire: number): [number, number] {
    const start = this.pos;
    switch (wire) {
      case 0: this.varint(); break;
      case 1: this.pos += 8; break;
      case 2: {
        const len = this.varint();
        const s = this.pos;
        this.pos += len;
        if (this.pos > this.buf.length) throw new PolyglotError(`${this.source}: protobuf field of ${len} bytes at byte ${s} runs past the end (${this.buf.length} bytes)`);
        return [s, s + len];
      }
      case 5: this.pos += 4; break;
      default: throw new PolyglotError(`${this.source}: expected a sentencepiece ModelProto, found protobuf wire type ${wire} at byte ${start}`);
    }
    return [start, this.pos];
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses the pieces of a sentencepiece model (bytes or a path). */
export function readSentencePieces(bytesOrPath: Uint8Array | string, name?: string): SpmPiece[] {
  const source = name ?? (typeof bytesOrPath === 'string' ? bytesOrPath : 'sentencepiece model');
  const buf = typeof bytesOrPath === 'string' ? new Uint8Array(readRegularFile(bytesOrPath, MAX_SENTENCEPIECE_BYTES, 'sentencepiece model')) : bytesOrPath;
  const r = new ProtoReader(buf, source);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const pieces: SpmPiece[] = [];
  while (r.pos < buf.length) {
    const key = r.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    const [s, e] = r.payload(wire);
    if (field !== 1 || wire !== 2) continue;
    const p: SpmPiece = { piece: '', score: 0, type: PieceType.Normal };
    const sub = new ProtoReader(buf.subarray(0, e), source);
    sub.pos = s;
    while (sub.pos < e) {
      const k = sub.varint();
      const f = Math.floor(k / 8);
      const w = k & 7;
      const at = sub.pos;
      const [a, b] = sub.payload(w);
      if (f === 1 && w === 2) {
        try {
          p.piece = utf8.decode(buf.subarray(a, b));
        } catch {
          throw new PolyglotError(`${source}: piece ${pieces.length} is not valid UTF-8 (bytes ${a}..${b})`);
        }
      }
      else if (f === 2 && w === 5) p.score = view.getFloat32(at, true);
      else if (f === 3 && w === 0) {
        sub.pos = at;
        p.type = sub.varint() as PieceType;
      }
    }
    pieces.push(p);
  }
  if (pieces.length === 0) throw new PolyglotError(`${source}: expected a sentencepiece model with pieces, found none`);
  return pieces;
}
