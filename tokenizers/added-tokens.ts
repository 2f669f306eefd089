/**
 * Added tokens (special tokens, XGLM `<madeupwordN>`, NLLB language codes and `<mask>`)
 * and the split of raw text around them, as transformers' slow tokenizers do before
 * sentencepiece sees the text (`PreTrainedTokenizer.tokenize` with `tokens_trie.split`).
 */
export interface AddedToken {
  content: string;
  id: number;
  special: boolean;
  /** Strip whitespace on the token's left / right neighbour (HF AddedToken.lstrip / rstrip). */
  lstrip: boolean;
  rstrip: boolean;
}

/** A piece of text: either an added token or plain text for sentencepiece. */
export type Fragment = { token: AddedToken } | { text: string };

/**
 * Splits `text` at every occurrence of an added token, leftmost first and the longest
 * token at a position (HF `Trie.split`), then applies lstrip / rstrip to the neighbours.
 */
export function splitOnAddedTokens(text: string, tokens: ReadonlyMap<string, AddedToken>): Fragment[] {
  const out: Fragment[] = [];
  if (tokens.size === 0) return text ? [{ text }] : [];
  // Candidates by first character keep the scan linear in practice.
  const byFirst = new Map<string, string[]>();
  for (const c of tokens.keys()) {
    if (!c) continue;
    const k = c[0];
    const arr = byFirst.get(k) ?? [];
    arr.push(c);
    byFirst.set(k, arr);
  }
  for (const arr of byFirst.values()) arr.sort((a, b) => b.length - a.length);
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const cands = byFirst.get(text[i]);
    const hit = cands?.find((c) => text.startsWith(c, i));
    if (hit) {
      if (i > start) out.push({ text: text.slice(start, i) });
      out.push({ token: tokens.get(hit)! });
      i += hit.length;
      start = i;
    } else {
      i++;
    }
  }
  if (start < text.length) out.push({ text: text.slice(start) });
  for (let k = 0; k < out.length; k++) {
    const f = out[k];
    if (!('token' in f)) continue;
    const left = out[k - 1];
    const right = out[k + 1];
    if (f.token.rstrip && right && 'text' in right) right.text = right.text.trimStart();
    if (f.token.lstrip && left && 'text' in left) left.text = left.text.trimEnd();
  }
  return out.filter((f) => 'token' in f || f.text.length > 0);
}
