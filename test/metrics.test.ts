import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { corpusBleu, sentenceBleu } from '../train/metrics/bleu.js';
import { corpusChrf, sentenceChrf } from '../train/metrics/chrf.js';
import { tokenize13a } from '../train/metrics/tokenizer-13a.js';
import { PolyglotError } from '../core/errors.js';

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

// sacrebleu's README example (2 reference streams): "BLEU = 48.53 82.4/50.0/45.5/37.5
// (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)" and "chrF2 = 59.73".
const SYS = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
const REFS = [
  ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
];

test('BLEU: sacrebleu README example', () => {
  const r = corpusBleu(SYS, REFS);
  assert.is(r.score.toFixed(2), '48.53');
  assert.equal(r.counts, [14, 7, 5, 3]);
  assert.equal(r.totals, [17, 14, 11, 8]);
  assert.is(r.sysLen, 17);
  assert.is(r.refLen, 18);
  close(r.bp, Math.exp(1 - 18 / 17));
});

test('chrF: sacrebleu README example', () => {
  assert.is(corpusChrf(SYS, REFS).score.toFixed(2), '59.73');
});

test('BLEU: identical -> 100, hand-computed small examples', () => {
  close(corpusBleu(['the cat sat on the mat'], ['the cat sat on the mat']).score, 100);
  // p1 = 5/6 (one "the" clipped), p2 = 3/5, p3 = 2/4, p4 = 1/3, BP = 1
  // BLEU = (5/6 * 3/5 * 1/2 * 1/3)^(1/4) = (1/12)^(1/4)
  close(corpusBleu(['the cat sat on the mat'], ['the cat sat on a mat']).score, 100 * Math.pow(1 / 12, 0.25));
  // all precisions 1, hyp 4 tokens vs ref 6: BP = exp(1 - 6/4)
  close(corpusBleu(['the cat sat on'], ['the cat sat on the mat']).score, 100 * Math.exp(-0.5));
});

test('BLEU smoothing: exp (default) vs none', () => {
  // "a b c d e" vs "a b x d e": matches 4/5, 2/4, 0/3, 0/2.
  // exp: p3 = 100/(2*3), p4 = 100/(4*2) -> (80 * 50 * 16.667 * 12.5)^(1/4) = 30.2138
  const r = corpusBleu(['a b c d e'], ['a b x d e']);
  assert.equal(r.counts, [4, 2, 0, 0]);
  close(r.score, Math.pow(80 * 50 * (100 / 6) * 12.5, 0.25));
  assert.is(r.score.toFixed(4), '30.2138');
  assert.ok(corpusBleu(['a b c d e'], ['a b x d e'], { smoothMethod: 'none' }).score < 1e-100);
  // floor 0.1: p3 = 10/3, p4 = 10/2
  close(corpusBleu(['a b c d e'], ['a b x d e'], { smoothMethod: 'floor' }).score, Math.pow(80 * 50 * (10 / 3) * 5, 0.25));
});

test('BLEU: corpus statistics are summed before the geometric mean', () => {
  // sentence 1: 2/2 unigrams, 1/1 bigram; sentence 2: "x y" vs "x z": 1/2, 0/1 -> corpus 3/4, 1/2; no 3-grams
  const r = corpusBleu(['a b', 'x y'], ['a b', 'x z'], { maxNgramOrder: 2 });
  assert.equal(r.counts, [3, 1]);
  assert.equal(r.totals, [4, 2]);
  close(r.score, 100 * Math.sqrt((3 / 4) * (1 / 2)));
});

test('sentence BLEU uses the effective order', () => {
  // 2 tokens, no 3/4-grams: mean over orders 1..2 only
  close(sentenceBleu('a b', 'a b').score, 100);
  // corpus BLEU with the same input has no 3-grams: total 0 -> zero score
  close(corpusBleu(['a b'], ['a b']).score, 0);
});

test('13a tokenisation: symbols, punctuation outside numbers, dash after digits, entities', () => {
  assert.is(tokenize13a("Hello, world! It's 3.14 - ok."), "Hello , world ! It's 3.14 - ok .");
  assert.is(tokenize13a('2024-06-01 at 1,000.5 &amp; x/y (z)'), '2024 - 06 - 01 at 1,000.5 & x / y ( z )');
  assert.is(tokenize13a('  a\n b  '), 'a b');
});

test('chrF: identical -> 100, whitespace ignored, hand-computed values', () => {
  close(sentenceChrf('abc', 'abc').score, 100);
  close(sentenceChrf('a b', 'ab').score, 100);
  // "ab" vs "abc": n=1 P=2/2 R=2/3; n=2 P=1/1 R=1/2; n>=3 no hyp n-grams (not counted)
  // avg P = 1, avg R = 7/12; F2 = 5 * 1 * 7/12 / (4 + 7/12) = 7/11
  close(sentenceChrf('ab', 'abc').score, (100 * 7) / 11);
  // corpus: sums stats of ("ab","abc") and ("abc","abc"): n1 5/5 5/6, n2 3/3 3/4, n3 1/1 1/2
  // avg P = 1, avg R = (5/6 + 3/4 + 1/2)/3 = 25/36; F2 = 5 * 25/36 / (4 + 25/36) = 125/169
  close(corpusChrf(['ab', 'abc'], ['abc', 'abc']).score, (100 * 125) / 169);
  assert.is(sentenceChrf('xyz', 'abc').score, 0);
  // case matters by default
  assert.ok(sentenceChrf('ABC', 'abc').score === 0 && sentenceChrf('ABC', 'abc', { lowercase: true }).score === 100);
});

test('mismatched reference counts are PolyglotErrors', () => {
  assert.throws(() => corpusBleu(['a', 'b'], ['a']), (e: unknown) => e instanceof PolyglotError && /reference stream 0 has 1 sentences, expected 2/.test((e as Error).message));
  assert.throws(() => corpusChrf(['a'], [['a'], ['a', 'b']]), (e: unknown) => e instanceof PolyglotError && /reference stream 1 has 2 sentences/.test((e as Error).message));
});

test.run();
