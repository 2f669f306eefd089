import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixturePath } from './helpers.js';
import { loadTokenizer, tokenizerFromModel } from '../tokenizers/load.js';
import { computeTokenizerCase, runTokenizerFixture, type TokenizerCase } from '../verify/tokenizer-cases.js';
import { readSentencePieces } from '../tokenizers/sentencepiece-model.js';
import { truncateLongestFirst } from '../tokenizers/tokenizer.js';
import { XGLMTokenizer } from '../tokenizers/xglm.js';
import { NllbTokenizer } from '../tokenizers/nllb.js';
import { PolyglotError } from '../core/errors.js';

const dir = fixturePath('tokenizer');
const doc = JSON.parse(fs.readFileSync(`${dir}/cases.json`, 'utf8')) as { cases: TokenizerCase[] };
const atd = (kind: string) => JSON.parse(fs.readFileSync(`${dir}/added_tokens_decoder.${kind}.json`, 'utf8')).added_tokens_decoder;
const xglm = await tokenizerFromModel(`${dir}/sentencepiece.bpe.model`, 'xglm', { addedTokensDecoder: atd('xglm') });
const nllb = await tokenizerFromModel(`${dir}/sentencepiece.bpe.model`, 'nllb', { addedTokensDecoder: atd('nllb') });

test('fixture has 60 cases (29 xglm, 31 nllb)', () => {
  assert.is(doc.cases.length, 60);
  assert.is(doc.cases.filter((c) => c.tokenizer === 'xglm').length, 29);
  assert.is(doc.cases.filter((c) => c.tokenizer === 'nllb').length, 31);
});

for (const c of doc.cases) {
  test(`fixture case ${c.name}: ids, tokens, pieces and 4 decodes exact`, () => {
    const got = computeTokenizerCase(c.tokenizer === 'xglm' ? xglm : nllb, c);
    assert.equal(got.input_ids, c.input_ids);
    assert.equal(got.tokens, c.tokens);
    assert.equal(got.pieces, c.pieces);
    if (c.pieces_pair) assert.equal(got.pieces_pair, c.pieces_pair);
    assert.is(got.decoded, c.decoded);
    assert.is(got.decoded_skip_special, c.decoded_skip_special);
    assert.is(got.decoded_no_cleanup, c.decoded_no_cleanup);
    assert.is(got.decoded_skip_special_no_cleanup, c.decoded_skip_special_no_cleanup);
  });
}

test('runTokenizerFixture passes all 60 cases and reports a differing field', async () => {
  const r = await runTokenizerFixture(dir);
  assert.is(r.length, 60);
  assert.is(r.filter((x) => x.status === 'pass').length, 60);
  const f = await runTokenizerFixture(dir, /^xglm_empty$/);
  assert.is(f.length, 1);
  assert.is(f[0].kind, 'tokenize');
});

test('sentencepiece model file: 1000 pieces, control pieces first', () => {
  const pieces = readSentencePieces(`${dir}/sentencepiece.bpe.model`);
  assert.is(pieces.length, 1000);
  assert.equal(pieces.slice(0, 3).map((p) => p.piece), ['<unk>', '<s>', '</s>']);
  assert.equal(pieces.slice(0, 3).map((p) => p.type), [2, 3, 3]);
  // id 357 ("▁") in the fixture ids is sentencepiece piece 356
  assert.is(pieces[356].piece, '\u2581');
});

test('loadTokenizer picks the family from the model directory', async () => {
  const x = await loadTokenizer(fixturePath('xglm-tiny'));
  assert.ok(x instanceof XGLMTokenizer);
  assert.is(x.length, 1008);
  assert.is(x.vocabSize, 1008);
  assert.is(x.tokenToId('<madeupword6>'), 1007);
  assert.equal(x.encode('%s: cannot seek to relative offset %s'), doc.cases[0].input_ids);
  const n = await loadTokenizer(fixturePath('nllb-moe-tiny'));
  assert.ok(n instanceof NllbTokenizer);
  assert.is(n.length, 1204);
  assert.is(n.vocabSize, 1001);
  assert.is(n.tokenToId('eng_Latn'), 1047);
  assert.is(n.tokenToId('<mask>'), 1203);
  assert.is((n as NllbTokenizer).srcLang, 'eng_Latn');
  assert.is((n as NllbTokenizer).tgtLang, 'fra_Latn');
  // text_target with the config's tgt_lang (fra_Latn = 1057)
  assert.equal(n.encode('', { asTarget: true }), [1057, 2]);
});

test('defaults without added_tokens_decoder follow the sentencepiece size (256000-piece checkpoints too)', async () => {
  const x = await tokenizerFromModel(`${dir}/sentencepiece.bpe.model`, 'xglm');
  assert.is(x.tokenToId('<madeupword0>'), 1001);
  const n = await tokenizerFromModel(`${dir}/sentencepiece.bpe.model`, 'nllb');
  assert.is(n.tokenToId('ace_Arab'), 1001);
  assert.is(n.tokenToId('eng_Latn'), 1047);
  assert.is(n.tokenToId('zul_Latn'), 1202);
  assert.is(n.tokenToId('<mask>'), 1203);
});

/** The fixture model grown to 256000 pieces, like the real checkpoints: extra pieces (never reachable from text) appended as repeated protobuf field 1. */
function bigModel(): string {
  const base = fs.readFileSync(`${dir}/sentencepiece.bpe.model`);
  const parts: Buffer[] = [base];
  const varint = (n: number) => {
    const b: number[] = [];
    while (n > 127) {
      b.push((n & 127) | 128);
      n >>>= 7;
    }
    b.push(n);
    return b;
  };
  for (let i = 1000; i < 256000; i++) {
    const piece = Buffer.from(`\uE000${i.toString(36)}`, 'utf8');
    const score = Buffer.alloc(4);
    score.writeFloatLE(-1e6 - i);
    const body = Buffer.concat([Buffer.from([0x0a, ...varint(piece.length)]), piece, Buffer.from([0x15]), score, Buffer.from([0x18, 1])]);
    parts.push(Buffer.from([0x0a, ...varint(body.length)]), body);
  }
  const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'spm-')), 'sentencepiece.bpe.model');
  fs.writeFileSync(p, Buffer.concat(parts));
  return p;
}

test('256000-piece model: ids of added tokens follow the model size, text ids unchanged', async () => {
  const p = bigModel();
  assert.is(readSentencePieces(p).length, 256000);
  const x = await tokenizerFromModel(p, 'xglm');
  assert.is(x.length, 256008);
  assert.equal(x.encode('a<madeupword0>b'), [2, 11, 256001, 52]);
  assert.is(x.decode([2, 11, 256007]), '</s> a<madeupword6>');
  const n = await tokenizerFromModel(p, 'nllb');
  assert.is(n.length, 256204);
  assert.equal(n.encode('a', { srcLang: 'eng_Latn' }), [256047, 11, 2]);
  assert.is(n.tokenToId('<mask>'), 256203);
  assert.is(n.decode([256047, 11, 2]), 'eng_Latn a</s>');
  // a piece beyond the fixture's 1000 maps to id + 1
  assert.is(n.idToToken(255001), `\uE000${(255000).toString(36)}`);
});

test('batch encoding pads right (default) and left with attention masks', () => {
  // "a" -> [2, 11]; "a b c" -> [2, 11, 52, 16] (ids from the fixture's xglm_madeupwords_in_text)
  const r = xglm.encodeBatch(['a', 'a b c']);
  assert.equal(r.shape, [2, 4]);
  assert.equal([...r.inputIds], [2, 11, 1, 1, 2, 11, 52, 16]);
  assert.equal([...r.attentionMask], [1, 1, 0, 0, 1, 1, 1, 1]);
  assert.equal(r.lengths, [2, 4]);
  const l = xglm.encodeBatch(['a', 'a b c'], { paddingSide: 'left' });
  assert.equal([...l.inputIds], [1, 1, 2, 11, 2, 11, 52, 16]);
  assert.equal([...l.attentionMask], [0, 0, 1, 1, 1, 1, 1, 1]);
  const m = nllb.encodeBatch(['a', 'a b'], { padding: 'max_length', maxLength: 5 });
  assert.equal([...m.inputIds], [1047, 11, 2, 1, 1, 1047, 11, 52, 2, 1]);
});

test('truncation keeps the special tokens and cuts from the end', () => {
  // NLLB "a b c d" -> [1047, 11, 52, 16, 4, 2] (nllb_whitespace_runs); max 4 keeps 2 text ids
  assert.equal(nllb.encode('a b c d', { maxLength: 4 }), [1047, 11, 52, 2]);
  assert.equal(xglm.encode('a b c', { maxLength: 3 }), [2, 11, 52]);
  // longest_first on a pair: 5 and 2 ids, budget 5 -> 3 removed from the longer one
  assert.equal(truncateLongestFirst([1, 2, 3, 4, 5], [6, 7], 5, 't'), [[1, 2, 3], [6, 7]]);
  // equal lengths: removal alternates (first gets floor(r/2), second the rest)
  assert.equal(truncateLongestFirst([1, 2, 3], [4, 5, 6], 3, 't'), [[1, 2], [4]]);
});

test('unknown language code and out-of-range id are PolyglotErrors naming the problem', () => {
  assert.throws(() => nllb.encode('x', { srcLang: 'xxx_Latn' }), (e: unknown) => e instanceof PolyglotError && /unknown NLLB language code "xxx_Latn"/.test((e as Error).message));
  // NLLB adds 2 special tokens: maxLength 1 cannot hold them (HF would log an error and not truncate)
  assert.throws(() => nllb.encode('a b', { maxLength: 1 }), (e: unknown) => e instanceof PolyglotError && /maxLength: expected an integer >= 2 \(the special tokens added\), found 1/.test((e as Error).message));
  assert.throws(() => xglm.decode([5000]), (e: unknown) => e instanceof PolyglotError && /token id 5000 is out of range \(expected 0\.\.1007\)/.test((e as Error).message));
});

test.run();
