/**
 * M2M-100 language codes in the order of transformers' `FAIRSEQ_LANGUAGE_CODES`
 * (models/m2m_100/tokenization_m2m_100.py), chosen by tokenizer_config.json `language_codes`:
 * code i is the token `__{code}__` with id len(vocab.json) + i (`__en__` = 128022 in
 * facebook/m2m100_418M, whose vocab.json has 128004 entries).
 */
export const M2M100_LANGUAGE_CODES: Readonly<Record<'m2m100' | 'wmt21', readonly string[]>> = {
  m2m100: [
    'af', 'am', 'ar', 'ast', 'az', 'ba', 'be', 'bg', 'bn', 'br', 'bs', 'ca', 'ceb', 'cs', 'cy', 'da', 'de', 'el', 'en', 'es',
    'et', 'fa', 'ff', 'fi', 'fr', 'fy', 'ga', 'gd', 'gl', 'gu', 'ha', 'he', 'hi', 'hr', 'ht', 'hu', 'hy', 'id', 'ig', 'ilo',
    'is', 'it', 'ja', 'jv', 'ka', 'kk', 'km', 'kn', 'ko', 'lb', 'lg', 'ln', 'lo', 'lt', 'lv', 'mg', 'mk', 'ml', 'mn', 'mr',
    'ms', 'my', 'ne', 'nl', 'no', 'ns', 'oc', 'or', 'pa', 'pl', 'ps', 'pt', 'ro', 'ru', 'sd', 'si', 'sk', 'sl', 'so', 'sq',
    'sr', 'ss', 'su', 'sv', 'sw', 'ta', 'th', 'tl', 'tn', 'tr', 'uk', 'ur', 'uz', 'vi', 'wo', 'xh', 'yi', 'yo', 'zh', 'zu',
  ],
  wmt21: ['en', 'ha', 'is', 'ja', 'cs', 'ru', 'zh', 'de'],
};

/** HF `get_lang_token`: the language token of a code. */
export function m2m100LangToken(code: string): string {
  return `__${code}__`;
}
