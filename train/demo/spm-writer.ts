/**
 * Writes a sentencepiece unigram model (`ModelProto`, protobuf) for a vocabulary we
 * choose ourselves, so `polyglot init` / the demo can ship a working HF tokenizer without
 * any downloaded file. Layout as fairseq / NLLB models: id 0 `<unk>`, 1 `<s>`, 2 `</s>`,
 * then the pieces. Normalizer "identity" (no precompiled charsmap): sentencepiece only
 * replaces spaces by U+2581 and adds the dummy prefix; segmentation is unigram Viterbi
 * over the piece scores (log-probabilities).
 */
const enc = new TextEncoder();

class ProtoWriter {
  private readonly parts: number[] = [];
  varint(v: number | bigint): this {
    let x = BigInt.asUintN(64, BigInt(v));
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x) b |= 0x80;
      this.parts.push(b);
    } while (x);
    return this;
  }
  key(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }
  int(field: number, v: number): this {
    return this.key(field, 0).varint(v);
  }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }
  bytes(field: number, v: Uint8Array | string): this {
    const b = typeof v === 'string' ? enc.encode(v) : v;
    this.key(field, 2).varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export interface Piece {
  piece: string;
  /** log-probability (higher = preferred by Viterbi). */
  score: number;
}

/** Serialises a unigram ModelProto with `<unk>`, `<s>`, `</s>` then `pieces`. */
export function unigramModelProto(pieces: Piece[]): Uint8Array {
  const w = new ProtoWriter();
  const all: { piece: string; score: number; type: number }[] = [
    { piece: '<unk>', score: 0, type: 2 },
    { piece: '<s>', score: 0, type: 3 },
    { piece: '</s>', score: 0, type: 3 },
    ...pieces.map((p) => ({ ...p, type: 1 })),
  ];
  for (const p of all) w.bytes(1, new ProtoWriter().bytes(1, p.piece).float(2, p.score).int(3, p.type).done());
  const trainer = new ProtoWriter()
    .int(3, 1) // model_type UNIGRAM
    .int(4, all.length) // vocab_size
    .int(40, 0) // unk_id
    .int(41, 1) // bos_id
    .int(42, 2) // eos_id
    .int(43, -1) // pad_id (none, as in the NLLB / XGLM models)
    .bytes(45, '<unk>')
    .bytes(46, '<s>')
    .bytes(47, '</s>')
    .bytes(48, '<pad>')
    .done();
  w.bytes(2, trainer);
  const normalizer = new ProtoWriter()
    .bytes(1, 'identity')
    .int(3, 1) // add_dummy_prefix
    .int(4, 1) // remove_extra_whitespaces
    .int(5, 1) // escape_whitespaces
    .done();
  w.bytes(3, normalizer);
  return w.done();
}

/**
 * A vocabulary for a corpus: every character (so nothing is unknown), and each whitespace
 * word as a `▁word` piece when it occurs at least `minCount` times, scored by log frequency.
 */
export function corpusPieces(texts: string[], opts: { minCount?: number; maxWords?: number } = {}): Piece[] {
  const chars = new Map<string, number>();
  const words = new Map<string, number>();
  for (const t of texts) {
    for (const w of t.split(/\s+/).filter(Boolean)) {
      words.set(`\u2581${w}`, (words.get(`\u2581${w}`) ?? 0) + 1);
      for (const c of w) chars.set(c, (chars.get(c) ?? 0) + 1);
    }
  }
  const min = opts.minCount ?? 2;
  const top = [...words.entries()].filter(([, c]) => c >= min).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, opts.maxWords ?? 4000);
  const total = top.reduce((s, [, c]) => s + c, 0) || 1;
  const charList = [...chars.keys()].sort();
  // Characters score far below words: a known word is one piece, anything else spelt out.
  return [
    { piece: '\u2581', score: -12 },
    ...top.map(([p, c]) => ({ piece: p, score: Math.log(c / total) })),
    ...charList.map((c) => ({ piece: c, score: -14 })),
  ].filter((p, i, a) => a.findIndex((q) => q.piece === p.piece) === i);
}
