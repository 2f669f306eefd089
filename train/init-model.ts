/**
 * `polyglot init`: a fresh XGLM or NLLB-MoE with HF initialisation (train/hf-init.ts),
 * written as a Hugging Face model directory with a tokenizer built for a corpus
 * (a sentencepiece unigram model over its characters and frequent words, train/demo/spm-writer.ts).
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { parseNllbMoeConfig } from '../models/nllb-moe/config.js';
import { parseXGLMConfig } from '../models/xglm/config.js';
import { PolyglotError } from '../core/errors.js';
import { writeHfModelDir, type HfWriteResult } from '../convert/hf-writer.js';
import { NLLB_LANGUAGE_CODES } from '../tokenizers/nllb-languages.js';
import { XGLM_NUM_MADEUP_WORDS, xglmMadeupWords } from '../tokenizers/xglm.js';
import { defaultHfConfig, initHfTensors, type Arch } from './hf-init.js';
import { corpusPieces, unigramModelProto } from './demo/spm-writer.js';
import { generationConfigFrom } from './export-hf.js';

export interface InitModelOptions {
  arch: Arch;
  /** HF config.json fields (d_model, layers, experts, ...); vocab_size is set from the tokenizer. */
  config: Record<string, unknown>;
  /** Texts the tokenizer vocabulary is built from. */
  tokenizerTexts: string[];
  seed: number;
  overwrite?: boolean;
  /** NLLB: default src_lang / tgt_lang written to tokenizer_config.json. */
  srcLang?: string;
  tgtLang?: string;
  minWordCount?: number;
}

function addedTokensDecoder(contents: string[], firstId: number, lstripLast = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  contents.forEach((content, i) => {
    out[String(firstId + i)] = { content, lstrip: lstripLast && i === contents.length - 1, normalized: false, rstrip: false, single_word: false, special: true };
  });
  return out;
}

export function initModelDir(outDir: string, o: InitModelOptions): { result: HfWriteResult; config: Record<string, unknown> } {
  if (o.tokenizerTexts.length === 0) throw new PolyglotError('init: the tokenizer corpus is empty');
  const pieces = corpusPieces(o.tokenizerTexts, { minCount: o.minWordCount ?? 2 });
  const spm = unigramModelProto(pieces);
  const spSize = pieces.length + 3;
  // fairseq offset: spm ids shift by one, with <s> <pad> </s> <unk> = 0..3
  const base = spSize + 1;
  const specials = addedTokensDecoder(['<s>', '<pad>', '</s>', '<unk>'], 0);
  let tokConfig: Record<string, unknown>;
  let vocab: number;
  if (o.arch === 'nllb-moe') {
    vocab = base + NLLB_LANGUAGE_CODES.length + 1;
    tokConfig = {
      added_tokens_decoder: { ...specials, ...addedTokensDecoder([...NLLB_LANGUAGE_CODES, '<mask>'], base, true) },
      additional_special_tokens: [...NLLB_LANGUAGE_CODES],
      bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', cls_token: '<s>', unk_token: '<unk>', pad_token: '<pad>', mask_token: '<mask>',
      clean_up_tokenization_spaces: true,
      legacy_behaviour: false,
      model_max_length: 1024,
      src_lang: o.srcLang ?? 'eng_Latn',
      tgt_lang: o.tgtLang ?? 'fra_Latn',
      sp_model_kwargs: {},
      tokenizer_class: 'NllbTokenizer',
    };
  } else {
    vocab = base + XGLM_NUM_MADEUP_WORDS;
    tokConfig = {
      added_tokens_decoder: { ...specials, ...addedTokensDecoder(xglmMadeupWords(), base) },
      additional_special_tokens: xglmMadeupWords(),
      bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', cls_token: '<s>', unk_token: '<unk>', pad_token: '<pad>',
      clean_up_tokenization_spaces: true,
      model_max_length: 2048,
      sp_model_kwargs: {},
      tokenizer_class: 'XGLMTokenizer',
    };
  }
  const config = defaultHfConfig(o.arch, { ...o.config, vocab_size: vocab });
  // The parser every loader uses: init never writes a model that nothing will load.
  if (o.arch === 'nllb-moe') parseNllbMoeConfig(config, 'init: config');
  else parseXGLMConfig(config, 'init: config');
  const specialMap: Record<string, unknown> = { bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', cls_token: '<s>', unk_token: '<unk>', pad_token: '<pad>', additional_special_tokens: tokConfig.additional_special_tokens };
  if (o.arch === 'nllb-moe') specialMap.mask_token = '<mask>';
  fs.mkdirSync(path.dirname(path.resolve(outDir)), { recursive: true });
  const result = writeHfModelDir(
    outDir,
    {
      config,
      tensors: initHfTensors(o.arch, config, o.seed),
      extraFiles: [
        { name: 'sentencepiece.bpe.model', contents: spm },
        { name: 'tokenizer_config.json', contents: `${JSON.stringify(tokConfig, null, 2)}\n` },
        { name: 'special_tokens_map.json', contents: `${JSON.stringify(specialMap, null, 2)}\n` },
        { name: 'generation_config.json', contents: `${JSON.stringify(generationConfigFrom(config), null, 2)}\n` },
      ],
    },
    { dtype: 'float32', overwrite: o.overwrite },
  );
  return { result, config };
}
