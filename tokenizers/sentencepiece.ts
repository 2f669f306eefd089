/**
 * A loaded sentencepiece model: segmentation (nmt_nfkc normalisation + BPE) from the
 * `sentencepiece-js` wasm build, the id <-> piece table from the model file itself.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import spjs from 'sentencepiece-js';
import { PolyglotError } from '../core/errors.js';
import { openRegularFile } from '../convert/model-file.js';
import { MAX_SENTENCEPIECE_BYTES, readSentencePieces, type SpmPiece } from './sentencepiece-model.js';

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
type Listener = (...args: unknown[]) => void;
const listenersOf = (e: (typeof PROCESS_EVENTS)[number]): Listener[] => process.listeners(e as 'uncaughtException') as Listener[];

/**
 * Runs `load`, then removes the process listeners it added: instantiating the emscripten
 * module registers an `uncaughtException` and an `unhandledRejection` listener (rethrowing),
 * which must not stay in a process that embeds us.
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

type Processor = InstanceType<typeof spjs.SentencePieceProcessor>;

/**
 * sentencepiece-js instantiates a new wasm module (compiled from an embedded base64 binary) in
 * every `load()`. The first load's module is kept and every later model is loaded into it, the
 * way `load()` does it (write the file into the module's in-memory FS, `Load` it, delete the
 * views), so a process compiles the module once. Processors are kept per model content (sha256):
 * loading the same tokenizer again costs nothing on the wasm heap. A processor is shared by the
 * models loaded from the same bytes and freed (its wasm object deleted) once all of them have been
 * garbage-collected, so a long-running process that loads many tokenizers does not keep them all.
 */
let sharedModule: Promise<NonNullable<Processor['sentencepiece']>> | undefined;
interface SharedProcessor {
  processor: Promise<Processor>;
  users: number;
}
const processors = new Map<string, SharedProcessor>();
const releaseWhenCollected = new FinalizationRegistry<string>(releaseProcessor);

function releaseProcessor(key: string): void {
  const shared = processors.get(key);
  if (!shared || --shared.users > 0) return;
  processors.delete(key);
  shared.processor.then((p) => p.processor?.delete(), () => undefined);
}

/** Processors currently held (one per distinct model still referenced); for tests and diagnostics. */
export function sentencePieceProcessorCount(): number {
  return processors.size;
}

async function loadIntoSharedModule(bytes: Uint8Array, fd: number, key: string): Promise<Processor> {
  const processor = new spjs.SentencePieceProcessor();
  if (!sharedModule) {
    // sentencepiece-js reads the file itself (readFileSync(fd): the fd is still at offset 0)
    const first = withoutNewProcessListeners(() => processor.load(fd)).then(() => processor.sentencepiece!);
    sharedModule = first;
    try {
      await first;
    } catch (e) {
      sharedModule = undefined;
      throw e;
    }
    return processor;
  }
  const wasm = await sharedModule;
  const file = `model-${key}.model`;
  wasm.FS.writeFile(file, bytes);
  const view = new wasm.StringView(file);
  const absl = view.getView();
  try {
    processor.sentencepiece = wasm;
    processor.processor = new wasm.SentencePieceProcessor();
    processor.processor.Load(absl).delete();
  } finally {
    absl.delete();
    view.delete();
    wasm.FS.unlink(file); // Load has read it; the module's FS would keep a copy otherwise
  }
  return processor;
}

/** The shared processor for these bytes; the caller registers its user with `releaseWhenCollected`. */
function acquireProcessor(bytes: Uint8Array, fd: number): { key: string; processor: Promise<Processor> } {
  const key = createHash('sha256').update(bytes).digest('hex');
  let shared = processors.get(key);
  if (!shared) {
    const processor = loadIntoSharedModule(bytes, fd, key);
    const entry: SharedProcessor = { processor, users: 0 };
    shared = entry;
    processors.set(key, entry);
    processor.catch(() => {
      if (processors.get(key) === entry) processors.delete(key);
    });
  }
  shared.users++;
  return { key, processor: shared.processor };
}

export class SentencePieceModel {
  private readonly pieceToIdMap = new Map<string, number>();

  private constructor(
    readonly path: string,
    private readonly processor: Processor,
    readonly pieces: SpmPiece[],
  ) {
    pieces.forEach((p, i) => {
      if (!this.pieceToIdMap.has(p.piece)) this.pieceToIdMap.set(p.piece, i);
    });
  }

  /** Loads a sentencepiece model file (a regular file of at most MAX_SENTENCEPIECE_BYTES, opened once) into the process's one wasm module. */
  static async load(path: string): Promise<SentencePieceModel> {
    if (!fs.existsSync(path)) throw new PolyglotError(`${path}: sentencepiece model not found`);
    const { fd, size } = openRegularFile(path);
    try {
      if (size > MAX_SENTENCEPIECE_BYTES) throw new PolyglotError(`${path}: sentencepiece model of ${size} bytes is larger than the ${MAX_SENTENCEPIECE_BYTES}-byte limit`);
      const bytes = new Uint8Array(size);
      for (let done = 0; done < size; ) {
        const got = fs.readSync(fd, bytes, done, size - done, done);
        if (got <= 0) throw new PolyglotError(`${path}: sentencepiece model shrank while being read`);
        done += got;
      }
      const pieces = readSentencePieces(bytes, path);
      // The checked file descriptor and its bytes, never the path again: what was checked is what is loaded.
      // (Positional reads above leave the fd at offset 0.)
      const { key, processor } = acquireProcessor(bytes, fd);
      let loaded: Processor;
      try {
        loaded = await processor;
      } catch (e) {
        releaseProcessor(key);
        throw e;
      }
      const model = new SentencePieceModel(path, loaded, pieces);
      releaseWhenCollected.register(model, key);
      return model;
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
