/**
 * M2M100Tokenizer (transformers 4.38-4.44 `models/m2m_100/tokenization_m2m_100.py`, slow) on a
 * tokenizer built here from the m2m100-tiny fixture's sentencepiece model: there is no HF-produced
 * M2M100 fixture, so vocab.json is made so that its ids are NOT the sentencepiece ids:
 *   `<s> <pad> </s> <unk>` = 0 1 2 3 (as in facebook/m2m100_418M's vocab.json), then the pieces
 *   of sentencepiece ids 3..999 except every multiple of 7 (dropped: they become `<unk>`), in
 *   DESCENDING sentencepiece order: piece j gets 4 + (number of kept pieces above j).
 *   855 pieces kept -> len(vocab.json) = 859.
 * The expected ids below follow HF's rules by hand (the line of HF's code is named at each) and
 * were cross-checked with an independent Python re-implementation of those code paths on python
 * sentencepiece 0.1.97 (transformers itself is not installable here).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSentencePieces } from '../tokenizers/sentencepiece-model.js';
import { loadTokenizer, checkTokenizerFitsModel } from '../tokenizers/load.js';
import { M2M100Tokenizer } from '../tokenizers/m2m100.js';
import { parseM2M100Vocab } from '../tokenizers/m2m100-vocab.js';
import { loadPretrainedTokenizer } from '../models/registry.js';
import { loadTranslator } from '../generation/load.js';
import { translate } from '../generation/translate.js';
import { encodeTranslation } from '../train/data/translation.js';
import { exportHfModel } from '../train/export-hf.js';
import { verifyFixture } from '../verify/verify.js';
import { fixturePath, projectFixturePath, rejectsExactly, throwsExactly, useBackend } from './helpers.js';
import { runCli, expectOneLineError } from './cli-run.js';

const FIXTURE = fixturePath('m2m100-tiny');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-m2m100-tok-'));
const SP = path.join(FIXTURE, 'sentencepiece.bpe.model');
const CODES = ['af', 'am', 'ar', 'ast', 'az', 'ba', 'be', 'bg', 'bn', 'br', 'bs', 'ca', 'ceb', 'cs', 'cy', 'da', 'de', 'el', 'en', 'es', 'et', 'fa', 'ff', 'fi', 'fr', 'fy', 'ga', 'gd', 'gl', 'gu', 'ha', 'he', 'hi', 'hr', 'ht', 'hu', 'hy', 'id', 'ig', 'ilo', 'is', 'it', 'ja', 'jv', 'ka', 'kk', 'km', 'kn', 'ko', 'lb', 'lg', 'ln', 'lo', 'lt', 'lv', 'mg', 'mk', 'ml', 'mn', 'mr', 'ms', 'my', 'ne', 'nl', 'no', 'ns', 'oc', 'or', 'pa', 'pl', 'ps', 'pt', 'ro', 'ru', 'sd', 'si', 'sk', 'sl', 'so', 'sq', 'sr', 'ss', 'su', 'sv', 'sw', 'ta', 'th', 'tl', 'tn', 'tr', 'uk', 'ur', 'uz', 'vi', 'wo', 'xh', 'yi', 'yo', 'zh', 'zu'];

function testVocab(): Record<string, number> {
  const pieces = readSentencePieces(SP).map((p) => p.piece);
  const vocab: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
  const kept = pieces.map((_, j) => j).filter((j) => j >= 3 && j % 7 !== 0).reverse();
  kept.forEach((j, r) => (vocab[pieces[j]] = 4 + r));
  return vocab;
}

/** The m2m100-tiny checkpoint with an M2M100Tokenizer instead of its NllbTokenizer, laid out as facebook/m2m100_418M's files. */
function m2mDir(name: string, edit?: (d: string) => void): string {
  const d = path.join(root, name);
  fs.mkdirSync(d);
  for (const f of ['model.safetensors', 'generation_config.json', 'sentencepiece.bpe.model']) fs.copyFileSync(path.join(FIXTURE, f), path.join(d, f));
  // facebook/m2m100_* config.json names no tokenizer_class
  const config = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'config.json'), 'utf8')) as Record<string, unknown>;
  delete config.tokenizer_class;
  fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(d, 'vocab.json'), JSON.stringify(testVocab()));
  fs.writeFileSync(
    path.join(d, 'tokenizer_config.json'),
    JSON.stringify({ src_lang: null, tgt_lang: null, bos_token: '<s>', eos_token: '</s>', sep_token: '</s>', unk_token: '<unk>', pad_token: '<pad>', language_codes: 'm2m100', num_madeup_words: 8, model_max_length: 1024, tokenizer_class: 'M2M100Tokenizer' }),
  );
  fs.writeFileSync(path.join(d, 'special_tokens_map.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', sep_token: '</s>', pad_token: '<pad>', additional_special_tokens: CODES.map((c) => `__${c}__`) }));
  edit?.(d);
  return d;
}

const editJson = (file: string, fn: (j: Record<string, unknown>) => void) => {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  fn(j);
  fs.writeFileSync(file, JSON.stringify(j));
};

const DIR = m2mDir('m2m');

async function m2m(dir = DIR, opts = {}): Promise<M2M100Tokenizer> {
  const t = await loadPretrainedTokenizer(dir, opts);
  assert.ok(t instanceof M2M100Tokenizer, `expected an M2M100Tokenizer, found ${t.kind}`);
  return t;
}

test('sizes and language ids: vocab_size = len(vocab.json), __xx__ = len(vocab.json) + index, len() counts the added language tokens', async () => {
  const t = await m2m();
  assert.is(t.vocabSize, 859); // `vocab_size` property: len(self.encoder) (4.34+)
  // lang_token_to_id = {get_lang_token(code): self.encoder_size + i}: "af" index 0, "en" 18, "fr" 24, "zu" 99
  assert.equal(['af', 'en', 'fr', 'zu'].map((c) => t.getLangId(c)), [859, 877, 883, 958]);
  assert.is(t.langToken('en'), '__en__'); // get_lang_token: f"__{lang_code}__"
  assert.is(t.length, 959); // __len__: set(get_vocab()) = 859 pieces + 100 added language tokens
  assert.is(t.maxTokenId, 958);
  assert.is(t.numMadeupWords, 8);
  assert.equal([t.bosTokenId, t.padTokenId, t.eosTokenId, t.unkTokenId], [0, 1, 2, 3]);
  assert.is(t.srcLang, 'en'); // __init__: src_lang if not None else "en"
  assert.is(t.tgtLang, undefined);
  // _convert_id_to_token: ids past the language tokens (the 8 madeup words) -> self.decoder.get(index, self.unk_token)
  assert.equal(t.convertIdsToTokens([959, 966]), ['<unk>', '<unk>']);
  // the model (vocab_size 1204) has a row for every id the tokenizer makes
  checkTokenizerFitsModel(t, 1204, DIR);
  throwsExactly(() => checkTokenizerFitsModel(t, 900, 'm'), "m: the tokenizer's ids run to 958 (vocab.json's 859 entries + 100 language tokens), but config.json vocab_size is 900; expected a tokenizer that fits the model");
});

test('encode: [src_lang] + vocab.json ids (pieces missing from it -> <unk>) + [eos]; decode with and without special tokens', async () => {
  const t = await m2m();
  const text = 'Hello world, perhaps \u2603 snow. __de__ x';
  // _tokenize = sp_model.encode(text, out_type=str) on each fragment between added tokens (tokenize's trie split: "__de__" is one)
  assert.equal(t.tokenize(text), ['\u2581', 'H', 'el', 'lo', '\u2581w', 'or', 'l', 'd', ',', '\u2581p', 'er', 'h', 'a', 'p', 's', '\u2581', '\u2603', '\u2581s', 'n', 'o', 'w', '.', '__de__', '\u2581', 'x']);
  const ids = t.encode(text);
  // set_src_lang_special_tokens: prefix [lang_token_to_id["__en__"]] = 877, suffix [eos_token_id] = 2.
  // _convert_token_to_id: encoder.get(token, encoder[unk_token]): "," (sentencepiece id 406 = 7 * 58, dropped) and
  // "\u2603" (not a piece) -> 3; "▁" (sentencepiece id 356) -> 4 + kept pieces above it (643 ids - 92 multiples of 7) = 555;
  // "x" (sentencepiece id 421) -> 4 + 578 - 82 = 500.
  assert.equal(ids, [877, 555, 428, 794, 632, 791, 846, 547, 548, 3, 850, 857, 535, 554, 543, 553, 555, 3, 851, 552, 550, 506, 525, 875, 555, 500, 2]);
  // __de__ is an added special token: its id is lang_token_to_id's (875 = 859 + 16)
  assert.is(ids[23], 875);
  // _decode: language tokens (additional special tokens with id >= vocab_size) are chunks joined by " ";
  // convert_tokens_to_string: sp_model.decode of each run of pieces (its leading "▁" dropped), special tokens (<unk>, </s>) glued in.
  assert.is(t.decode(ids), '__en__ Hello world<unk>perhaps <unk>snow. __de__ x</s>');
  // skip_special_tokens: all_special_ids (bos, eos, unk, pad, the 100 language tokens) dropped first
  assert.is(t.decode(ids, { skipSpecialTokens: true }), 'Hello world perhaps  snow. x');
  // special tokens written in the text are split out; clean_up_tokenization (default true up to 4.44)
  const ids2 = t.encode("Don't stop </s> here!");
  assert.equal(ids2, [877, 3, 854, 513, 3, 851, 3, 641, 2, 718, 857, 3, 352, 2]);
  assert.is(t.decode(ids2), "__en__ <unk>on'<unk>s<unk>op</s>her<unk>!</s>");
  assert.is(t.decode(ids2, { skipSpecialTokens: true }), "on' sop her!");
  // empty text: just the language and eos
  assert.equal(t.encode('', { srcLang: 'de' }), [875, 2]);
  assert.is(t.decode([875, 2]), '__de__ </s>');
  // madeup-word ids are '<unk>' tokens but not special ids (HF skips by id): kept, glued
  assert.is(t.decode([883, 959, 966, 1, 1], { skipSpecialTokens: true }), '<unk><unk>');
  // a pair is concatenated without separator (build_inputs_with_special_tokens)
  assert.equal(t.encode('x', { textPair: 'x' }), [877, 555, 500, 555, 500, 2]); // 'x' -> pieces ▁ x
  assert.is(t.numSpecialTokensToAdd(false), 2);
});

test('sentencepiece Decode(pieces) as python sentencepiece 0.1.97 gives it (convert_tokens_to_string runs through it)', async () => {
  const t = await m2m();
  const cases: [string[], string][] = [
    [['\u2581the', '\u2581c', 'at'], 'the cat'], // first leading ▁ dropped, the others become spaces
    [['\u2581the', '\u2581cat'], 'the\u2581cat'], // "▁cat" is not a piece: kept as it is
    [['__en__', '\u2581the'], '__en__ the'],
    [['<unk>', '\u2581the'], ' \u2047  the'], // the <unk> piece: unk_surface " ⁇ "
    [['</s>', '\u2581the'], 'the'], // control pieces vanish (and nothing has been written yet)
    [['\u2581', '\u2581the'], 'the'],
    [[], ''],
  ];
  for (const [pieces, text] of cases) assert.is(t.sp.decodePieces(pieces), text, JSON.stringify(pieces));
});

test('250 corpus lines with special tokens inserted (test/fixtures/m2m100-tokenizer/cases.json): ids and all three decodes equal', async () => {
  const t = await m2m();
  const file = JSON.parse(fs.readFileSync(path.join(projectFixturePath('m2m100-tokenizer'), 'cases.json'), 'utf8')) as {
    cases: { text: string; src_lang: string; input_ids: number[]; decoded: string; decoded_skip_special: string; decoded_skip_special_no_cleanup: string }[];
  };
  assert.is(file.cases.length, 250);
  let unknowns = 0;
  for (const c of file.cases) {
    const ids = t.encode(c.text, { srcLang: c.src_lang });
    assert.equal(ids, c.input_ids, c.text);
    assert.is(t.decode(ids), c.decoded, c.text);
    assert.is(t.decode(ids, { skipSpecialTokens: true }), c.decoded_skip_special, c.text);
    assert.is(t.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }), c.decoded_skip_special_no_cleanup, c.text);
    unknowns += ids.filter((i) => i === 3).length;
  }
  assert.ok(unknowns > 100, `the shortened vocab.json gives unknowns (${unknowns})`);
});

test('round trip, text_target with tgt_lang, src_lang setter, unknown codes', async () => {
  const t = await m2m(DIR, { tgtLang: 'fr' });
  const s = 'the cat sat on the mat';
  const ids = t.encode(s, { srcLang: 'fr' });
  assert.equal(ids, [883, 726, 848, 811, 851, 811, 555, 854, 726, 831, 811, 2]);
  assert.is(t.decode(ids, { skipSpecialTokens: true }), s);
  assert.is(t.decode(ids), `__fr__ ${s}</s>`);
  // _switch_to_target_mode: set_tgt_lang_special_tokens(tgt_lang): [tgt_lang_id] + ids + [eos]
  assert.equal(t.encode(s, { asTarget: true }), ids);
  assert.equal(t.encode('x', { asTarget: true, tgtLang: 'zu' }), [958, 555, 500, 2]);
  // truncation keeps the two special tokens
  assert.equal(t.encode(s, { maxLength: 4 }), [877, 726, 848, 2]);
  t.srcLang = 'de';
  assert.equal(t.encode('x'), [875, 555, 500, 2]);
  assert.throws(() => (t.srcLang = 'xx'), /unknown M2M-100 language code "xx"/);
  throwsExactly(() => t.langCodeId('eng_Latn'), `${path.join(DIR, 'tokenizer_config.json')}: unknown M2M-100 language code "eng_Latn" (an NLLB code; M2M-100 uses ISO 639 codes) (expected one of the 100 language_codes "m2m100" codes like en, de, zh)`);
  const noTgt = await m2m();
  throwsExactly(() => noTgt.encode('x', { asTarget: true }), `${path.join(DIR, 'tokenizer_config.json')}: encoding a target text needs tgt_lang (none given, none in tokenizer_config.json)`);
  // tokenizer_config.json src_lang / tgt_lang are read
  const cfg = m2mDir('langs', (d) => editJson(path.join(d, 'tokenizer_config.json'), (j) => Object.assign(j, { src_lang: 'fr', tgt_lang: 'de' })));
  const t2 = await m2m(cfg);
  assert.equal([t2.encode('x'), t2.encode('x', { asTarget: true })], [[883, 555, 500, 2], [875, 555, 500, 2]]);
});

test('language_codes "wmt21": 8 codes after vocab.json; a folder without additional_special_tokens keeps HF 4.34+ behaviour', async () => {
  const w = await m2m(m2mDir('wmt21', (d) => {
    editJson(path.join(d, 'tokenizer_config.json'), (j) => (j.language_codes = 'wmt21'));
    editJson(path.join(d, 'special_tokens_map.json'), (j) => (j.additional_special_tokens = ['en', 'ha', 'is', 'ja', 'cs', 'ru', 'zh', 'de'].map((c) => `__${c}__`)));
  }));
  // FAIRSEQ_LANGUAGE_CODES["wmt21"] = ['en', 'ha', 'is', 'ja', 'cs', 'ru', 'zh', 'de']
  assert.equal([w.getLangId('en'), w.getLangId('de'), w.length], [859, 866, 867]);
  assert.throws(() => w.getLangId('fr'), /unknown M2M-100 language code "fr"/);
  // Without additional_special_tokens the language tokens are not added tokens: __init__'s
  // `lang_code not in str(token) not in self.added_tokens_encoder` is always false, so none is appended.
  // Then "__de__" in a text is plain text, and decode(skip_special_tokens=True) keeps "__fr__"
  // (not a special id; sp_model.decode returns a non-piece as it is).
  const bare = await m2m(m2mDir('bare', (d) => fs.rmSync(path.join(d, 'special_tokens_map.json'))));
  assert.is(bare.length, 859);
  assert.equal(bare.encode('__de__ x'), [877, 555, 464, 464, 810, 464, 464, 555, 500, 2]);
  assert.is(bare.decode([883, 726, 848, 2], { skipSpecialTokens: true }), '__fr__ the c');
  assert.is(bare.decode(bare.encode('__de__ x')), '__en__ __de__ x</s>');
});

test('tokenizer detection: M2M100Tokenizer accepted for m2m_100, by class or by vocab.json; mismatches refused in one line', async () => {
  // no tokenizer_class anywhere: HF's default for m2m_100 is M2M100Tokenizer; a folder with vocab.json is one
  const noClass = m2mDir('no-class', (d) => editJson(path.join(d, 'tokenizer_config.json'), (j) => delete j.tokenizer_class));
  assert.is((await loadPretrainedTokenizer(noClass)).kind, 'm2m100');
  // the shared fixture (NLLB-200 style, no vocab.json) keeps its NllbTokenizer
  assert.is((await loadPretrainedTokenizer(FIXTURE)).kind, 'nllb');
  // an XGLM model refuses M2M100Tokenizer; an M2M-100 model refuses XGLMTokenizer
  const xglm = path.join(root, 'xglm-m2m-class');
  fs.mkdirSync(xglm);
  for (const f of ['config.json', 'sentencepiece.bpe.model']) fs.copyFileSync(fixturePath('xglm-tiny', f), path.join(xglm, f));
  fs.writeFileSync(path.join(xglm, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'M2M100Tokenizer' }));
  await rejectsExactly(loadPretrainedTokenizer(xglm), `${path.join(xglm, 'tokenizer_config.json')}: tokenizer_class "M2M100Tokenizer" is not the XGLMTokenizer this model needs`);
  const wrong = m2mDir('xglm-class', (d) => editJson(path.join(d, 'tokenizer_config.json'), (j) => (j.tokenizer_class = 'XGLMTokenizer')));
  expectOneLineError(['translate', '--model', wrong, '--src-lang', 'en', '--tgt-lang', 'fr', 'x'], /tokenizer_config\.json: tokenizer_class "XGLMTokenizer" is not the NllbTokenizer or M2M100Tokenizer this model needs/);
  await rejectsExactly(loadTokenizer(m2mDir('fast', (d) => editJson(path.join(d, 'tokenizer_config.json'), (j) => (j.tokenizer_class = 'M2M100TokenizerFast')))), /tokenizer_class "M2M100TokenizerFast" is not supported \(expected XGLMTokenizer, NllbTokenizer or M2M100Tokenizer\)/);
});

test('bad vocab.json and settings: one line naming the file and the entry', async () => {
  const v = 'dir/vocab.json';
  throwsExactly(() => parseM2M100Vocab(['<s>'], v), `${v}: expected a JSON object of piece -> id, found an array`);
  throwsExactly(() => parseM2M100Vocab({}, v), `${v}: expected a JSON object of piece -> id, found an empty object`);
  throwsExactly(() => parseM2M100Vocab({ '<s>': 0, a: 1.5 }, v), `${v}: "a": expected an integer id >= 0, found 1.5`);
  throwsExactly(() => parseM2M100Vocab({ '<s>': 0, a: '1' }, v), `${v}: "a": expected an integer id >= 0, found "1"`);
  throwsExactly(() => parseM2M100Vocab({ '<s>': 0, a: 0 }, v), `${v}: id 0 is given to both "<s>" and "a" (expected each id once)`);
  throwsExactly(() => parseM2M100Vocab({ '<s>': 0, a: 1e9 }, v), `${v}: "a": id 1000000000 is too large (expected ids 0..1: the file has 2 entries, and language tokens are numbered from 2)`);
  const vocabOf = (d: string) => path.join(d, 'vocab.json');
  const noUnk = m2mDir('no-unk', (d) => editJson(vocabOf(d), (j) => {
    delete j['<unk>'];
    j['<extra>'] = 3;
  }));
  await rejectsExactly(loadPretrainedTokenizer(noUnk), `${vocabOf(noUnk)}: expected the unk_token "<unk>" in vocab.json, found none (859 entries)`);
  const noEos = m2mDir('no-eos', (d) => editJson(vocabOf(d), (j) => {
    delete j['</s>'];
    j['<extra>'] = 2;
  }));
  await rejectsExactly(loadPretrainedTokenizer(noEos), `${vocabOf(noEos)}: expected the eos_token "</s>" in vocab.json, found none (859 entries)`);
  const lang = m2mDir('lang-in-vocab', (d) => editJson(vocabOf(d), (j) => {
    delete j['<unk>'];
    j['__en__'] = 3;
    j['<unk>'] = 859;
  }));
  await rejectsExactly(loadPretrainedTokenizer(lang), /vocab\.json: has the language token "__en__" \(id 3\), which M2M100Tokenizer numbers 878 \(after vocab\.json\); expected no language tokens in vocab\.json/);
  const notObj = m2mDir('vocab-array', (d) => fs.writeFileSync(vocabOf(d), '[1,2]'));
  expectOneLineError(['tokenize', '--model', notObj, 'x'], /vocab\.json: expected a JSON object of piece -> id, found an array/);
  const noVocab = m2mDir('no-vocab', (d) => fs.rmSync(vocabOf(d)));
  await rejectsExactly(loadPretrainedTokenizer(noVocab), `${noVocab}: expected vocab.json (M2M100Tokenizer's piece -> id map beside sentencepiece.bpe.model), found none`);
  const outside = m2mDir('vocab-link', (d) => {
    fs.rmSync(vocabOf(d));
    fs.symlinkSync(path.join(DIR, 'vocab.json'), vocabOf(d));
  });
  await rejectsExactly(loadPretrainedTokenizer(outside), /vocab\.json: links to .*, outside the model folder; only files inside it are read/);
  // language tokens listed out of order would get two ids (added-token id != get_lang_id)
  const order = m2mDir('order', (d) => editJson(path.join(d, 'special_tokens_map.json'), (j) => (j.additional_special_tokens = ['__fr__', ...CODES.filter((c) => c !== 'fr').map((c) => `__${c}__`)])));
  await rejectsExactly(loadPretrainedTokenizer(order), /additional_special_tokens gives "__fr__" id 859, but M2M100Tokenizer's get_lang_id gives it 883/);
  const tc = (name: string, fn: (j: Record<string, unknown>) => void) => m2mDir(name, (d) => editJson(path.join(d, 'tokenizer_config.json'), fn));
  await rejectsExactly(loadPretrainedTokenizer(tc('codes', (j) => (j.language_codes = 'nllb'))), /tokenizer_config\.json: language_codes: expected "m2m100" or "wmt21", found "nllb"/);
  await rejectsExactly(loadPretrainedTokenizer(tc('sampling', (j) => (j.sp_model_kwargs = { enable_sampling: true, alpha: 0.1 }))), /tokenizer_config\.json: sp_model_kwargs\.enable_sampling = true is not supported/);
  assert.is((await loadPretrainedTokenizer(tc('neutral', (j) => (j.sp_model_kwargs = { enable_sampling: false, nbest_size: -1 })))).kind, 'm2m100');
  await rejectsExactly(loadPretrainedTokenizer(tc('madeup', (j) => (j.num_madeup_words = -1))), /num_madeup_words: expected an integer >= 0, found -1/);
  await rejectsExactly(loadPretrainedTokenizer(tc('src', (j) => (j.src_lang = 'eng_Latn'))), /unknown M2M-100 language code "eng_Latn"/);
});

test('added_tokens_decoder (a save_pretrained of transformers >= 4.34) gives the same tokenizer; one that moves a language token is refused', async () => {
  const decoder: Record<string, unknown> = {};
  ['<s>', '<pad>', '</s>', '<unk>'].forEach((c, i) => (decoder[i] = { content: c, special: true }));
  CODES.forEach((c, i) => (decoder[859 + i] = { content: `__${c}__`, special: true }));
  const saved = m2mDir('saved', (d) => {
    fs.rmSync(path.join(d, 'special_tokens_map.json'));
    editJson(path.join(d, 'tokenizer_config.json'), (j) => Object.assign(j, { added_tokens_decoder: decoder, additional_special_tokens: CODES.map((c) => `__${c}__`) }));
  });
  const a = await m2m(saved);
  const b = await m2m();
  const text = 'Hello world, perhaps \u2603 snow. __de__ x';
  assert.equal(a.encode(text), b.encode(text));
  assert.is(a.decode(a.encode(text), { skipSpecialTokens: true }), b.decode(b.encode(text), { skipSpecialTokens: true }));
  assert.is(a.length, 959);
  const moved = m2mDir('moved', (d) => editJson(path.join(d, 'tokenizer_config.json'), (j) => (j.added_tokens_decoder = { ...decoder, 877: { content: '__xx__' } })));
  await rejectsExactly(loadPretrainedTokenizer(moved), /added_tokens_decoder gives id 877 to "__xx__", which is the id of the language token "__en__"/);
});

test('translate (library and CLI): forced BOS = the target language id, output decoded by the M2M100Tokenizer', async () => {
  await useBackend('cpu');
  const t = await loadTranslator(DIR);
  try {
    assert.ok(t.tokenizer instanceof M2M100Tokenizer);
    const out = await translate(t.model, t.tokenizer, ['the cat sat on the mat', 'Hello world'], { srcLang: 'en', tgtLang: 'fr', maxNewTokens: 5 });
    for (const o of out) {
      assert.is(o.ids[0], 883); // _build_translation_inputs: forced_bos_token_id = get_lang_id(tgt_lang)
      assert.is(o.text, t.tokenizer.decode(o.ids, { skipSpecialTokens: true }));
    }
    const cli = runCli(['translate', '--model', DIR, '--src-lang', 'en', '--tgt-lang', 'fr', '--max-new-tokens', '5', '--json', 'the cat sat on the mat', 'Hello world']);
    assert.is(cli.status, 0, cli.stderr);
    const recs = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { translation: string; ids: number[] });
    assert.equal(recs.map((r) => r.ids), out.map((o) => o.ids));
    assert.equal(recs.map((r) => r.translation), out.map((o) => o.text));
    // the training export (save_pretrained layout) carries vocab.json along: the same tokenizer loads from it
    const exported = path.join(root, 'exported');
    exportHfModel(t.model, exported, { sourceDir: DIR, config: JSON.parse(fs.readFileSync(path.join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>, hfName: t.format.weights.hfName });
    assert.ok(fs.existsSync(path.join(exported, 'vocab.json')));
    const again = await m2m(exported);
    assert.equal(again.encode('Hello world, perhaps'), t.tokenizer.encode('Hello world, perhaps'));
  } finally {
    t.model.dispose();
  }
  expectOneLineError(['translate', '--model', DIR, '--src-lang', 'eng_Latn', '--tgt-lang', 'fr', 'x'], /unknown M2M-100 language code "eng_Latn"/);
  // a config.json vocab_size too small for the tokenizer's ids: refused before translating
  const small = m2mDir('small-vocab', (d) => editJson(path.join(d, 'vocab.json'), (j) => {
    for (let i = 0; i < 300; i++) j[`<x${i}>`] = 859 + i;
  }));
  expectOneLineError(['translate', '--model', small, '--src-lang', 'en', '--tgt-lang', 'fr', 'x'], /the tokenizer's ids run to 1258 \(vocab\.json's 1159 entries \+ 100 language tokens\), but config\.json vocab_size is 1204/);
});

test('verify: a model fixture with the M2M100Tokenizer swapped in runs its tokenize case (literal ids) and its greedy generation', async () => {
  await useBackend('cpu');
  const dir = m2mDir('verify', (d) => {
    fs.mkdirSync(path.join(d, 'reference'));
    fs.copyFileSync(path.join(FIXTURE, 'reference', 'tensors.safetensors'), path.join(d, 'reference', 'tensors.safetensors'));
    const doc = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'reference', 'cases.json'), 'utf8')) as { cases: { kind: string }[] };
    doc.cases = doc.cases.filter((c) => c.kind === 'generate_greedy');
    doc.cases.push({
      name: 'tokenize_m2m100',
      kind: 'tokenize',
      inputs: { text: 'the cat sat on the mat', src_lang: 'fr' },
      expect: { input_ids: [883, 726, 848, 811, 851, 811, 555, 854, 726, 831, 811, 2], decoded: '__fr__ the cat sat on the mat</s>', decoded_skip_special: 'the cat sat on the mat' },
      rtol: 0,
      atol: 0,
    } as { kind: string });
    fs.writeFileSync(path.join(d, 'reference', 'cases.json'), JSON.stringify(doc));
  });
  const results = await verifyFixture(dir);
  for (const r of results) assert.is(r.status, 'pass', `${r.case}: ${r.message ?? ''}`);
  assert.equal(results.map((r) => r.case).sort(), ['generate_greedy', 'tokenize_m2m100']);
});

test('training data: input_ids [src_lang] src </s>, labels [tgt_lang] tgt </s> (tokenizer(src, text_target=tgt))', async () => {
  const t = await m2m();
  const ex = encodeTranslation(t, JSON.stringify({ src: 'the cat sat on the mat', tgt: 'x', src_lang: 'fr', tgt_lang: 'de' }), 'data.jsonl:1', {});
  assert.equal(ex.inputIds, [883, 726, 848, 811, 851, 811, 555, 854, 726, 831, 811, 2]);
  assert.equal(ex.labels, [875, 555, 500, 2]);
  throwsExactly(() => encodeTranslation(t, JSON.stringify({ src: 'a', tgt: 'b', src_lang: 'eng_Latn', tgt_lang: 'fr' }), 'data.jsonl:2', {}), /^data\.jsonl:2: .*unknown M2M-100 language code "eng_Latn"/);
});

test.after(() => fs.rmSync(root, { recursive: true, force: true }));

test.run();
