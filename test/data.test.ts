import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixturePath } from './helpers.js';
import { loadTokenizer } from '../tokenizers/load.js';
import type { NllbTokenizer } from '../tokenizers/nllb.js';
import { LineCorpus } from '../train/data/line-index.js';
import { shiftTokensRight } from '../train/data/shift.js';
import { collateCausal, packDocuments } from '../train/data/collate.js';
import { causalLmData } from '../train/data/causal-lm.js';
import { translationData } from '../train/data/translation.js';
import { heldOutSplit } from '../train/data/split.js';
import type { HostBatch } from '../train/batch.js';
import { PolyglotError } from '../core/errors.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-data-'));
const write = (name: string, text: string) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
};
const xglm = await loadTokenizer(fixturePath('xglm-tiny'));
const nllb = (await loadTokenizer(fixturePath('nllb-moe-tiny'))) as NllbTokenizer;
const arr = (b: HostBatch, k: string) => [...b.arrays[k].data];
const parallel = (xx: string) => fixturePath('corpus', 'parallel', `${xx}.jsonl`);

test('line index: blank lines skipped, CRLF, no final newline, UTF-8 across small read chunks', async () => {
  const p = write('lines.txt', 'first line\n\n   \nzweite Zeile ü\r\n\t\nдругая строка 日本\nlast');
  for (const chunkBytes of [3, 7, 1 << 20]) {
    const c = await LineCorpus.open([p], { chunkBytes });
    assert.is(c.size, 4);
    assert.equal([0, 1, 2, 3].map((i) => c.line(i)), ['first line', 'zweite Zeile ü', 'другая строка 日本', 'last']);
    assert.is(c.where(1), `${p}:4`);
    assert.is(c.where(3), `${p}:7`);
    c.close();
  }
});

test('shift_tokens_right: start 2, labels moved right, -100 -> pad 1', () => {
  const labels = new Int32Array([1057, 155, 2, -100, 1057, 2, -100, -100]);
  assert.equal([...shiftTokensRight(labels, [2, 4], 1, 2)], [2, 1057, 155, 2, 2, 1057, 2, 1]);
});

test('causal LM collate and packing: exact ids, labels -100 on padding, </s> between documents', () => {
  // XGLMTokenizer: "a" -> [2, 11], "a b c" -> [2, 11, 52, 16] (</s> prepended to every document)
  const docs = [xglm.encode('a'), xglm.encode('a b c')];
  assert.equal(docs, [[2, 11], [2, 11, 52, 16]]);
  const b = collateCausal(docs, { padId: 1 });
  assert.equal(b.arrays.input_ids.shape, [2, 4]);
  assert.equal(arr(b, 'input_ids'), [2, 11, 1, 1, 2, 11, 52, 16]);
  assert.equal(arr(b, 'attention_mask'), [1, 1, 0, 0, 1, 1, 1, 1]);
  assert.equal(arr(b, 'labels'), [2, 11, -100, -100, 2, 11, 52, 16]);
  assert.is(b.tokens, 6);
  assert.is(b.targets, 4);
  // stream 2 11 2 11 52 16 -> blocks of 4: [2 11 2 11], remainder [52 16] dropped (HF group_texts)
  assert.equal(packDocuments(docs, 4), [[2, 11, 2, 11]]);
  assert.equal(packDocuments(docs, 3), [[2, 11, 2], [11, 52, 16]]);
});

test('translation batch: exact ids of a small example (HF tokenizer(src, text_target=tgt) + DataCollatorForSeq2Seq)', async () => {
  const p = write('pairs.jsonl', [
    JSON.stringify({ src: '%s: cannot seek to relative offset %s', tgt: "Impossible d'ouvrir le fichier en entrée « %s »", src_lang: 'eng_Latn', tgt_lang: 'fra_Latn' }),
    JSON.stringify({ src: '', tgt: '', src_lang: 'deu_Latn', tgt_lang: 'fra_Latn' }),
  ].join('\n'));
  const d = await translationData({ files: [p], tokenizer: nllb, batchSize: 2, seed: 0, shuffle: false, bucketByLength: false });
  const b = d.train.next();
  // ids from the tokenizer fixture: nllb_en_source and nllb_fr_target
  const src = [1047, 10, 360, 399, 16, 293, 215, 117, 358, 412, 128, 67, 280, 17, 177, 239, 380, 360, 87, 10, 360, 2];
  const tgt = [1057, 155, 372, 348, 141, 386, 32, 4, 406, 363, 369, 389, 90, 364, 204, 23, 83, 198, 131, 357, 55, 364, 420, 358, 91, 10, 360, 144, 2];
  const S = src.length;
  const T = tgt.length;
  assert.equal(b.arrays.input_ids.shape, [2, S]);
  assert.equal(arr(b, 'input_ids'), [...src, 1042, 2, ...new Array(S - 2).fill(1)]);
  assert.equal(arr(b, 'attention_mask'), [...new Array(S).fill(1), 1, 1, ...new Array(S - 2).fill(0)]);
  assert.equal(arr(b, 'labels'), [...tgt, 1057, 2, ...new Array(T - 2).fill(-100)]);
  assert.equal(arr(b, 'decoder_input_ids'), [2, ...tgt.slice(0, -1), 2, 1057, 2, ...new Array(T - 3).fill(1)]);
  assert.not.ok('decoder_attention_mask' in b.arrays);
  assert.is(b.tokens, S + 2 + T + 2);
  assert.is(b.targets, T + 2);
  d.close();
});

async function firstBatches(seed: number, n: number, state?: unknown) {
  const d = await translationData({ files: [parallel('fr'), parallel('de')], tokenizer: nllb, batchSize: 4, seed, chunkBatches: 3, maxSourceLength: 24, maxTargetLength: 24 });
  if (state) d.train.restore(state);
  const out = Array.from({ length: n }, () => arr(d.train.next(), 'input_ids').join(','));
  return { out, d };
}

test('seeded shuffling: same seed same order, another seed another order; two languages in one file set', async () => {
  const a = await firstBatches(7, 5);
  const b = await firstBatches(7, 5);
  const c = await firstBatches(8, 5);
  assert.equal(a.out, b.out);
  assert.not.equal(a.out, c.out);
  assert.is(a.d.trainSize, 5400);
  assert.is(a.d.train.batchesPerEpoch, 1350);
  // labels start with the line's tgt_lang: fra_Latn 1057 and deu_Latn 1042 both appear
  const firsts = new Set<number>();
  for (let i = 0; i < 10; i++) {
    const bt = a.d.train.next();
    const [B, T] = bt.arrays.labels.shape;
    for (let r = 0; r < B; r++) firsts.add(bt.arrays.labels.data[r * T]);
  }
  assert.equal([...firsts].sort(), [1042, 1057]);
  for (const x of [a, b, c]) x.d.close();
});

test('resume from a saved position equals the uninterrupted run (mid-chunk and across an epoch)', async () => {
  const p = write('docs.txt', Array.from({ length: 23 }, (_, i) => `document number ${i} ${'x '.repeat(i % 5)}`).join('\n'));
  const make = () => causalLmData({ files: [p], tokenizer: xglm, mode: 'pad', batchSize: 2, seed: 3, chunkBatches: 2 });
  const full = await make();
  const seq = Array.from({ length: 30 }, () => arr(full.train.next(), 'input_ids').join(','));
  for (const k of [1, 5, 11, 12, 13]) {
    const run = await make();
    for (let i = 0; i < k; i++) run.train.next();
    const saved = JSON.parse(JSON.stringify(run.train.state()));
    const resumed = await make();
    resumed.train.restore(saved);
    const rest = Array.from({ length: 30 - k }, () => arr(resumed.train.next(), 'input_ids').join(','));
    assert.equal(rest, seq.slice(k), `resume after ${k} batches`);
    run.close();
    resumed.close();
  }
  // 23 docs, batch 2 -> 12 batches per epoch; after 13 batches the position is in epoch 1
  assert.is(full.train.batchesPerEpoch, 12);
  assert.is(full.train.epoch, 2);
  full.close();
});

test('packed blocks from the monolingual corpus: deterministic, resumable, every block full-length', async () => {
  const make = () => causalLmData({ files: [fixturePath('corpus', 'monolingual.txt')], tokenizer: xglm, mode: 'pack', blockSize: 32, batchSize: 4, seed: 11, chunkBatches: 4 });
  const a = await make();
  assert.is(a.trainSize, 20000);
  assert.is(a.train.batchesPerEpoch, undefined);
  const seq = Array.from({ length: 12 }, () => a.train.next());
  for (const b of seq) assert.is(b.arrays.input_ids.shape[1], 32);
  // the first document of every chunk starts with </s> (2), so 2 appears as a separator
  assert.ok(seq.some((b) => b.arrays.input_ids.data.includes(2)));
  const b = await make();
  for (let i = 0; i < 7; i++) b.train.next();
  const c = await make();
  c.train.restore(JSON.parse(JSON.stringify(b.train.state())));
  for (let i = 7; i < 12; i++) assert.equal(arr(c.train.next(), 'input_ids'), [...seq[i].arrays.input_ids.data]);
  for (const d of [a, b, c]) d.close();
});

test('an epoch visits every example once; length bucketing keeps batch length ranges apart', async () => {
  const lines = Array.from({ length: 40 }, (_, i) => 'w '.repeat(1 + ((i * 7) % 13)).trim());
  const p = write('bucket.txt', lines.join('\n'));
  const d = await causalLmData({ files: [p], tokenizer: xglm, mode: 'pad', batchSize: 4, seed: 1, chunkBatches: 100 });
  const lens: number[][] = [];
  for (let i = 0; i < d.train.batchesPerEpoch!; i++) {
    const b = d.train.next();
    const [B, T] = b.arrays.attention_mask.shape;
    lens.push(Array.from({ length: B }, (_, r) => Array.from(b.arrays.attention_mask.data.subarray(r * T, (r + 1) * T)).reduce((s, v) => s + v, 0)));
  }
  const expected = lines.map((l) => xglm.encode(l).length).sort((a, b) => a - b);
  assert.equal(lens.flat().sort((a, b) => a - b), expected);
  for (let i = 0; i < lens.length; i++) {
    for (let j = i + 1; j < lens.length; j++) {
      const apart = Math.max(...lens[i]) <= Math.min(...lens[j]) || Math.max(...lens[j]) <= Math.min(...lens[i]);
      assert.ok(apart, `batches ${i} and ${j} overlap in length: ${lens[i]} / ${lens[j]}`);
    }
  }
  d.close();
});

test('packing over a JSONL text field; held-out split is seeded, disjoint and complete', async () => {
  const p = write('docs.jsonl', ['a', 'a b c', 'a', 'a b c'].map((text) => JSON.stringify({ text, id: 1 })).join('\n'));
  const d = await causalLmData({ files: [p], tokenizer: xglm, mode: 'pack', blockSize: 4, batchSize: 8, seed: 0, shuffle: false });
  // stream [2 11][2 11 52 16][2 11][2 11 52 16] -> 3 blocks of 4
  const b = d.train.next();
  assert.equal(b.arrays.input_ids.shape, [3, 4]);
  assert.equal(arr(b, 'input_ids'), [2, 11, 2, 11, 52, 16, 2, 11, 2, 11, 52, 16]);
  assert.equal(arr(b, 'labels'), arr(b, 'input_ids'));
  d.close();
  const s1 = heldOutSplit(1000, 0.1, 5);
  const s2 = heldOutSplit(1000, 0.1, 5);
  assert.equal([...s1.eval], [...s2.eval]);
  assert.is(s1.eval.length, 100);
  assert.is(s1.train.length, 900);
  assert.equal([...new Set([...s1.eval, ...s1.train])].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.not.equal([...heldOutSplit(1000, 0.1, 6).eval], [...s1.eval]);
});

test('eval data: held-out fraction and separate --eval-data files give ordered batches', async () => {
  const d = await translationData({ files: [parallel('es')], evalFiles: [fixturePath('corpus', 'parallel', 'es.dev.jsonl')], tokenizer: nllb, batchSize: 16, seed: 0, maxSourceLength: 32, maxTargetLength: 32 });
  assert.is(d.evalSize, 300);
  let rows = 0;
  for (const b of d.evalBatches!()) rows += b.arrays.input_ids.shape[0];
  assert.is(rows, 300);
  d.close();
  const h = await translationData({ files: [parallel('es')], evalFraction: 0.05, tokenizer: nllb, batchSize: 16, seed: 0, maxSourceLength: 32, maxTargetLength: 32 });
  assert.is(h.evalSize, 135);
  assert.is(h.trainSize, 2565);
  h.close();
});

test('length limits: truncate keeps lang code and </s>; drop skips long pairs', async () => {
  const p = write('long.jsonl', [
    JSON.stringify({ src: 'a b c d', tgt: 'a b c d', src_lang: 'eng_Latn', tgt_lang: 'fra_Latn' }),
    JSON.stringify({ src: 'a', tgt: 'a', src_lang: 'eng_Latn', tgt_lang: 'fra_Latn' }),
  ].join('\n'));
  const t = await translationData({ files: [p], tokenizer: nllb, batchSize: 2, seed: 0, shuffle: false, bucketByLength: false, maxSourceLength: 4, maxTargetLength: 3 });
  const b = t.train.next();
  // "a b c d" -> 11 52 16 4 (nllb_whitespace_runs); truncated to [1047, 11, 52, 2] and [1057, 11, 2]
  assert.equal(arr(b, 'input_ids'), [1047, 11, 52, 2, 1047, 11, 2, 1]);
  assert.equal(arr(b, 'labels'), [1057, 11, 2, 1057, 11, 2]);
  t.close();
  const dr = await translationData({ files: [p], tokenizer: nllb, batchSize: 2, seed: 0, shuffle: false, maxSourceLength: 4, overLength: 'drop' });
  assert.equal(dr.train.next().arrays.input_ids.shape, [1, 3]);
  assert.is(dr.train.batchesPerEpoch, undefined);
  dr.close();
});

test('bad lines are PolyglotErrors naming file:line and field', async () => {
  const p = write('bad.jsonl', `${JSON.stringify({ src: 'a', tgt: 'b', src_lang: 'eng_Latn', tgt_lang: 'fra_Latn' })}\n\n{"src": "a", "tgt": 3}\n`);
  // every line is checked when the data is opened, before any batch (issue 9: no run lost to line 7001)
  const failure = async (o: Parameters<typeof translationData>[0]) => translationData(o).then(() => undefined, (e: unknown) => e);
  const e1 = await failure({ files: [p], tokenizer: nllb, batchSize: 2, seed: 0, shuffle: false });
  assert.ok(e1 instanceof PolyglotError && e1.message === `${p}:3: expected a string field "tgt", found number`, String(e1));
  const q = write('lang.jsonl', JSON.stringify({ src: 'a', tgt: 'b', src_lang: 'eng_Latn', tgt_lang: 'xxx_Latn' }));
  const e2 = await failure({ files: [q], tokenizer: nllb, batchSize: 1, seed: 0 });
  assert.ok(e2 instanceof PolyglotError && e2.message === `${q}:1: tgt_lang "xxx_Latn" is not a language of this tokenizer (expected a code like eng_Latn, fra_Latn)`, String(e2));
  try {
    await LineCorpus.open([path.join(tmp, 'missing.txt')]);
    assert.unreachable('should throw');
  } catch (e) {
    assert.ok(e instanceof PolyglotError && /missing\.txt: data file not found/.test((e as Error).message));
  }
  try {
    await causalLmData({ files: [write('blank.txt', '\n  \n')], tokenizer: xglm, mode: 'pad', batchSize: 1, seed: 0 });
    assert.unreachable('should throw');
  } catch (e) {
    assert.ok(e instanceof PolyglotError && /blank\.txt: expected training examples \(non-blank lines\), found none/.test((e as Error).message), String(e));
  }
  const r = await causalLmData({ files: [write('one.txt', 'one document\n')], tokenizer: xglm, mode: 'pad', batchSize: 1, seed: 0 });
  assert.throws(() => r.train.restore({ epoch: 0 }), /data position: expected \{epoch, cursor, batchInChunk, rngState/);
  assert.throws(() => r.train.restore({ epoch: 0, cursor: 5, batchInChunk: 0, rngState: [1, 2, 3, 4] }), /cursor 5 does not match this data \(1 examples/);
  r.close();
});

test.run();
