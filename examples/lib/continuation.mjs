// The text that generated ids add to a prompt, computed as Hugging Face's text-generation pipeline
// does: decode prompt + generated pieces together, then drop as many characters (code points) as
// the decoded prompt has. The caller shows the prompt exactly as typed followed by this text; the
// space before a new word comes from the model's own "▁" piece, never added by us.
export function continuation(decodeIds, promptSpmIds, newSpmIds) {
  const full = Array.from(decodeIds([...promptSpmIds, ...newSpmIds]));
  return full.slice(Array.from(decodeIds([...promptSpmIds])).length).join('');
}
