// A minimal sentencepiece BPE encoder/decoder for the browser (sentencepiece-js needs Node's fs):
// reads the pieces and scores from sentencepiece.bpe.model (a protobuf ModelProto) and encodes
// like sentencepiece's BPE: NFKC, whitespace collapsed, "▁" dummy prefix, then repeatedly merge
// the adjacent pair whose merged piece has the highest score. Good enough for a demo; the
// Hugging Face tokenizers (special-token splitting etc.) are in tfjs-polyglot proper.

function readVarint(buf, pos) {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++];
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [result, pos];
    shift += 7;
  }
}

/** ModelProto.pieces (field 1): [{piece, score, type}] */
export function parseSentencePieceModel(bytes) {
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dec = new TextDecoder();
  const pieces = [];
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      if (field === 1) {
        const end = pos + len;
        const p = { piece: '', score: 0, type: 1 };
        while (pos < end) {
          let k;
          [k, pos] = readVarint(buf, pos);
          const f = Math.floor(k / 8);
          const w = k & 7;
          if (w === 2) {
            let l;
            [l, pos] = readVarint(buf, pos);
            if (f === 1) p.piece = dec.decode(buf.subarray(pos, pos + l));
            pos += l;
          } else if (w === 5) {
            if (f === 2) p.score = view.getFloat32(pos, true);
            pos += 4;
          } else if (w === 0) {
            let v;
            [v, pos] = readVarint(buf, pos);
            if (f === 3) p.type = v;
          } else if (w === 1) pos += 8;
          else throw new Error(`sentencepiece model: unexpected wire type ${w}`);
        }
        pieces.push(p);
      } else pos += len;
    } else if (wire === 0) [, pos] = readVarint(buf, pos);
    else if (wire === 5) pos += 4;
    else if (wire === 1) pos += 8;
    else throw new Error(`sentencepiece model: unexpected wire type ${wire}`);
  }
  return pieces;
}

export class MiniSentencePiece {
  constructor(pieces) {
    this.pieces = pieces;
    this.ids = new Map();
    // types: 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte
    pieces.forEach((p, i) => {
      if ((p.type === 1 || p.type === 4) && !this.ids.has(p.piece)) this.ids.set(p.piece, i);
    });
  }

  static fromBytes(bytes) {
    return new MiniSentencePiece(parseSentencePieceModel(bytes));
  }

  /** sentencepiece ids (0 = <unk>) */
  encodeIds(text) {
    const norm = text.normalize('NFKC').replace(/\s+/g, ' ').trim();
    if (!norm) return [];
    let symbols = Array.from('▁' + norm.replace(/ /g, '▁'));
    for (;;) {
      let best = -1;
      let bestScore = -Infinity;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const id = this.ids.get(symbols[i] + symbols[i + 1]);
        if (id !== undefined && this.pieces[id].score > bestScore) {
          bestScore = this.pieces[id].score;
          best = i;
        }
      }
      if (best < 0) break;
      symbols.splice(best, 2, symbols[best] + symbols[best + 1]);
    }
    // sentencepiece emits a run of adjacent unknown symbols as one <unk>
    const out = [];
    for (const s of symbols) {
      const id = this.ids.get(s) ?? 0;
      if (id === 0 && out[out.length - 1] === 0) continue;
      out.push(id);
    }
    return out;
  }

  decodeIds(ids) {
    // as sentencepiece: only the dummy-prefix space of the first piece goes (a trailing "▁" stays)
    return ids.map((i) => this.pieces[i]?.piece ?? '').join('').replace(/▁/g, ' ').replace(/^ /, '');
  }
}
