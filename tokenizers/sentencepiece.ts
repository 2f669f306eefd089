/**
 * A loaded sentencepiece model: segmentation (nmt_nfkc normalisation + BPE) from the
 * `sentencepiece-js` wasm build, the id <-> piece table from the model file itself.
 */
import * as fs from 'node:fs';
import spjs from 'sentencepiece-js';
import { PolyglotError } from '../core/errors.js';
import { readSentencePieces, type SpmPiece } from './sentencepiece-model.js';

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

  static async load(path: string): Promise<SentencePieceModel> {
    if (!fs.existsSync(path)) throw new PolyglotError(`${path}: sentencepiece model not found`);
    const pieces = readSentencePieces(path);
    const processor = new spjs.SentencePieceProcessor();
    await processor.load(path);
    return new SentencePieceModel(path, processor, pieces);
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
