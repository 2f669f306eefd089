/**
 * sacrebleu's default BLEU tokenizer `13a` (mteval-v13a.pl): unescape a few XML entities,
 * split off punctuation and symbols, split periods/commas except inside numbers, split a dash
 * after a digit, collapse whitespace.
 */
const RULES: [RegExp, string][] = [
  // language-dependent part (Western languages): symbols {-~ [-` space-& (-+ :-@ /
  [/([{-~[-` -&(-+:-@/])/g, ' $1 '],
  // period and comma unless preceded by a digit
  [/([^0-9])([.,])/g, '$1 $2 '],
  // period and comma unless followed by a digit
  [/([.,])([^0-9])/g, ' $1 $2'],
  // dash when preceded by a digit
  [/([0-9])(-)/g, '$1 $2 '],
];

export function tokenize13a(line: string): string {
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) {
    s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  s = ` ${s} `;
  for (const [re, repl] of RULES) s = s.replace(re, repl);
  return s.split(/\s+/).filter((t) => t.length > 0).join(' ');
}
