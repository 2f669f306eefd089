/**
 * Turns streamed token ids into text pieces (like HF TextStreamer): decodes everything generated
 * so far and emits what was appended since the last call. Sentencepiece spaces belong to the next
 * piece, so piece-by-piece decoding would lose them; re-decoding the whole row keeps them.
 */
import type { DecodeOptions } from '../tokenizers/tokenizer.js';

export interface TextDecoder {
  decode(ids: ArrayLike<number>, opts?: DecodeOptions): string;
}

export class TextStreamer {
  private readonly ids: number[] = [];
  private printed = '';

  constructor(
    private readonly tokenizer: TextDecoder,
    private readonly onText: (text: string) => void,
    /** Prefix to decode with (e.g. the prompt) so that the first piece gets its leading space. */
    private readonly prefix: readonly number[] = [],
  ) {
    this.printed = this.decode();
  }

  private decode(): string {
    // no clean-up while streaming: " ." -> "." would rewrite text already printed
    return this.tokenizer.decode([...this.prefix, ...this.ids], { skipSpecialTokens: true, cleanUpTokenizationSpaces: false });
  }

  put(id: number): void {
    this.ids.push(id);
    const text = this.decode();
    if (text.startsWith(this.printed)) {
      const piece = text.slice(this.printed.length);
      if (piece) this.onText(piece);
    } else {
      // cannot happen with sentencepiece decoding; keep going from the new text
      this.onText(text);
    }
    this.printed = text;
  }
}
