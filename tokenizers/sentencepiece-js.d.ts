/** Types for the parts of the `sentencepiece-js` package (CommonJS, no bundled types) that we use. */
declare module 'sentencepiece-js' {
  export class SentencePieceProcessor {
    /** Reads the model with fs.readFileSync(pathOrFd). */
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
