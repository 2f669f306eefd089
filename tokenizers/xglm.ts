/**
 * HF `XGLMTokenizer` (slow): one sequence `</s> A`, a pair `</s> A </s> </s> B`
 * (build_inputs_with_special_tokens puts sep = `</s>` first, no trailing eos);
 * `<madeupword0..6>` follow the sentencepiece vocabulary.
 */
import { FairseqSpmTokenizer, EOS_ID, FAIRSEQ_OFFSET, type EncodeOptions, type TokenizerSpec } from './tokenizer.js';
import type { AddedToken } from './added-tokens.js';
import type { SentencePieceModel } from './sentencepiece.js';

export const XGLM_NUM_MADEUP_WORDS = 7;

export function xglmMadeupWords(): string[] {
  return Array.from({ length: XGLM_NUM_MADEUP_WORDS }, (_, i) => `<madeupword${i}>`);
}

export class XGLMTokenizer extends FairseqSpmTokenizer {
  readonly kind = 'xglm' as const;

  protected withSpecialTokens(a: number[], b: number[] | undefined, _opts: EncodeOptions): number[] {
    return b === undefined ? [EOS_ID, ...a] : [EOS_ID, ...a, EOS_ID, EOS_ID, ...b];
  }

  /** The HF defaults for a bare sentencepiece model: madeupwords at sp_size + 1 + i, vocab_size = sp_size + 1 + 7. */
  static defaultSpec(sp: SentencePieceModel, source: string): TokenizerSpec {
    const specials: AddedToken[] = ['<s>', '<pad>', '</s>', '<unk>'].map((content, id) => ({ content, id, special: true, lstrip: false, rstrip: false }));
    const madeup = xglmMadeupWords().map((content, i) => ({ content, id: sp.size + FAIRSEQ_OFFSET + i, special: true, lstrip: false, rstrip: false }));
    return {
      sp,
      addedTokens: [...specials, ...madeup],
      additionalSpecialTokens: xglmMadeupWords(),
      vocabSize: sp.size + FAIRSEQ_OFFSET + XGLM_NUM_MADEUP_WORDS,
      cleanUpTokenizationSpaces: true,
      source,
    };
  }
}
