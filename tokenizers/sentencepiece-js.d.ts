/** Types for the parts of the `sentencepiece-js` package (CommonJS, no bundled types) that we use. */
declare module 'sentencepiece-js' {
  /** Embind objects live on the wasm heap until deleted. */
  interface Deletable {
    delete(): void;
  }
  /** The emscripten module instance (1.1.0's internals, used to load further models into one module). */
  interface SentencePieceWasm {
    FS: { writeFile(name: string, data: Uint8Array): void; unlink(name: string): void };
    StringView: new (s: string) => Deletable & { getView(): Deletable };
    SentencePieceProcessor: new () => NativeProcessor;
  }
  interface NativeProcessor extends Deletable {
    Load(view: Deletable): Deletable;
  }
  export class SentencePieceProcessor {
    /** Set by load(): the module instance and the native processor. */
    sentencepiece?: SentencePieceWasm;
    processor?: NativeProcessor;
    /** Instantiates a new wasm module, then reads the model with fs.readFileSync(pathOrFd). */
    load(pathOrFd: string | number): Promise<void>;
    encodeIds(text: string): number[];
    encodePieces(text: string): string[];
    decodeIds(ids: number[]): string;
    loadVocabulary(path: string): void;
  }
  export function cleanText(text: string): string;
  const index: { SentencePieceProcessor: typeof SentencePieceProcessor; cleanText: typeof cleanText };
  export default index;
}
