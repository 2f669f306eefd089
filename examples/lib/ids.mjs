// Hugging Face id conventions of XGLMTokenizer / NllbTokenizer over a sentencepiece model
// (fairseq offset): <s>=0 <pad>=1 </s>=2 <unk>=3, sentencepiece piece i (i >= 3) = id i + 1,
// sentencepiece <unk> (0) = 3; language codes / <madeupwordN> from tokenizer_config.json.
export const BOS = 0;
export const PAD = 1;
export const EOS = 2;
export const UNK = 3;

/** sentencepiece ids -> model ids */
export function fromSpm(spmIds) {
  return spmIds.map((i) => (i === 0 ? UNK : i + 1));
}

/** ids of every added token (specials, language codes, <mask>, <madeupwordN>) in tokenizer_config.json */
export function addedTokenIds(tokenizerConfig) {
  return new Set(Object.keys(tokenizerConfig.added_tokens_decoder ?? {}).map(Number));
}

/** model ids -> sentencepiece ids of ordinary pieces (special and added tokens dropped, as skip_special_tokens) */
export function toSpm(ids, addedIds) {
  return ids.filter((i) => i > UNK && !addedIds.has(i)).map((i) => i - 1);
}

/** id of an added token (language code, <mask>, <madeupwordN>) from tokenizer_config.json's added_tokens_decoder */
export function addedTokenId(tokenizerConfig, content) {
  const table = tokenizerConfig.added_tokens_decoder ?? {};
  for (const [id, tok] of Object.entries(table)) if (tok.content === content) return Number(id);
  throw new Error(`tokenizer_config.json: no added token ${JSON.stringify(content)} in added_tokens_decoder`);
}

/** XGLM prompt: </s> + pieces (no trailing </s>) */
export function xglmPromptIds(spmIds) {
  return [EOS, ...fromSpm(spmIds)];
}

/** NLLB source: src_lang + pieces + </s> (non-legacy behaviour) */
export function nllbSourceIds(spmIds, srcLangId) {
  return [srcLangId, ...fromSpm(spmIds), EOS];
}
