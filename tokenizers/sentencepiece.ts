/**
 * A loaded sentencepiece model: segmentation (nmt_nfkc normalisation + BPE) from the
 * `sentencepiece-js` wasm build, the id <-> piece table from the model file itself.
 */
import * as fs from 'node:fs';
import spjs from 'sentencepiece-js';
import { PolyglotError } from '../core/errors.js';
import { openRegularFile } from '../convert/model-file.js';
import { MAX_SENTENCEPIECE_BYTES, readSentencePieces, type SpmPiece } from './sentencepiece-model.js';

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
type Listener = (...args: unknown[]) => void;
const listenersOf = (e: (typeof PROCESS_EVENTS)[number]): Listener[] => process.listeners(e as 'uncaughtException') as Listener[];

/**
 * Runs `load`, then removes the process listeners it added: each sentencepiece-js load
 * instantiates an emscripten module that registers an `uncaughtException` and an
 * `unhandledRejection` listener (rethrowing), which would pile up (and keep every module
 * alive) in a process that loads tokenizers repeatedly.
 */
async function withoutNewProcessListeners(load: () => Promise<void>): Promise<void> {
  const before = new Map(PROCESS_EVENTS.map((e) => [e, new Set(listenersOf(e))]));
  try {
    await load();
  } finally {
    for (const e of PROCESS_EVENTS) {
      for (const l of listenersOf(e)) if (!before.get(e)!.has(l)) process.removeListener(e, l);
    }
  }
}

export class SentencePieceModel {
  private readonly pieceToIdMap = new Map<string, number>();

  private constructor(
    readonly path: string,
    private readonly processor: InstanceType<typeof spjs.SentencePieceProcessor>,
    readonly pieces: SpmPiece[],
  ) {
    pieces.forEach((p, i) => {
      if (!this.pieceToIdMap.has(p.piece)) this.pieceToIdMap.set(p.piece, i);
    });
  }

  /** Loads a sentencepiece model file (a regular file of at most MAX_SENTENCEPIECE_BYTES, opened once). */
  static async load(path: string): Promise<SentencePieceModel> {
    if (!fs.existsSync(path)) throw new PolyglotError(`${path}: sentencepiece model not found`);
    const { fd, size } = openRegularFile(path);
    try {
      if (size > MAX_SENTENCEPIECE_BYTES) throw new PolyglotError(`${path}: sentencepiece model of ${size} bytes is larger than the ${MAX_SENTENCEPIECE_BYTES}-byte limit`);
      const bytes = new Uint8Array(size);
      // Positional reads leave the fd at offset 0 for sentencepiece-js's own readFileSync(fd) below.
      for (let done = 0; done < size; ) {
        const got = fs.readSync(fd, bytes, done, size - done, done);
        if (got <= 0) throw new PolyglotError(`${path}: sentencepiece model shrank while being read`);
        done += got;
      }
      const pieces = readSentencePieces(bytes, path);
      const processor = new spjs.SentencePieceProcessor();
      // The checked file descriptor, never the path again: what was checked is what is loaded.
      await withoutNewProcessListeners(() => processor.load(fd));
      return new SentencePieceModel(path, processor, pieces);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Number of pieces (len(sp_model)). */
  get size(): number {
    return this.pieces.length;
  }

  /** sentencepiece `encode(text, out_type=str)`: normalised pieces; unknown characters keep their (normalised) surface. */
  encodePieces(text: string): string[] {
    // sentencepiece-js passes the text through a C string: a NUL would cut it short.
    if (text.includes('\0')) text = text.replace(/\0/g, '');
    return this.processor.encodePieces(text);
  }

  /** sentencepiece `PieceToId`: the piece's id, or 0 (`<unk>`) for anything not in the vocabulary. */
  pieceToId(piece: string): number {
    return this.pieceToIdMap.get(piece) ?? 0;
  }

  /** sentencepiece `IdToPiece`. */
  idToPiece(id: number): string {
    const p = this.pieces[id];
    if (p === undefined) throw new PolyglotError(`${this.path}: piece id ${id} is out of range (the model has ${this.pieces.length} pieces)`);
    return p.piece;
  }
}
