/**
 * The sentencepiece wasm module is instantiated once per process: 50 loadTokenizer calls compile
 * nothing more, add no process listeners and keep memory flat; a second, different model is loaded
 * into the same module and both keep tokenizing correctly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fixturePath } from './helpers.js';
import { loadTokenizer } from '../tokenizers/load.js';
import { corpusPieces, unigramModelProto } from '../train/demo/spm-writer.js';
import { sentencePieceProcessorCount } from '../tokenizers/sentencepiece.js';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

let instantiations = 0;
const instantiate = WebAssembly.instantiate;
WebAssembly.instantiate = ((...args: Parameters<typeof instantiate>) => {
  instantiations++;
  return instantiate(...args);
}) as typeof instantiate;

const listeners = () => [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];

test('50 loads of a tokenizer: no new wasm module, no process listener, flat memory, same ids', async () => {
  const dir = fixturePath('xglm-tiny');
  const ids = (await loadTokenizer(dir)).encode('Hello world, this is');
  const before = { instantiations, listeners: listeners(), rss: process.memoryUsage().rss };
  for (let i = 0; i < 50; i++) assert.equal((await loadTokenizer(dir)).encode('Hello world, this is'), ids);
  assert.is(instantiations - before.instantiations, 0, 'wasm modules instantiated by 50 loads');
  assert.equal(listeners(), before.listeners);
  const grownMB = (process.memoryUsage().rss - before.rss) / 1e6;
  // one module per load was ~16 MB of wasm memory each
  assert.ok(grownMB < 40, `RSS grew ${grownMB.toFixed(1)} MB over 50 loads`);
});

test('a different sentencepiece model loads into the same module; both tokenize as before', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spm-reuse-'));
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'XGLMTokenizer' }));
  fs.writeFileSync(
    path.join(dir, 'sentencepiece.bpe.model'),
    unigramModelProto(corpusPieces(['zebra quilt zebra', 'quilt zebra'])),
  );
  const first = await loadTokenizer(fixturePath('xglm-tiny'));
  const firstIds = first.encode('zebra quilt');
  const before = instantiations;
  const other = await loadTokenizer(dir);
  assert.is(instantiations, before, 'no new module for another model');
  const pieces = other.tokenize('zebra quilt');
  assert.equal(pieces, ['▁zebra', '▁quilt']);
  assert.equal(first.encode('zebra quilt'), firstIds, 'the first model is untouched');
  assert.is.not(first.tokenize('zebra quilt').join(' '), pieces.join(' '));
});

test('tokenizers of 12 distinct models are freed once unreferenced; a live one keeps working', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  // FinalizationRegistry callbacks run on a later task after a collection
  const collect = async (until: () => boolean) => {
    for (let round = 0; round < 20 && !until(); round++) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'spm-release-'));
  const live = await loadTokenizer(fixturePath('xglm-tiny'));
  const liveIds = live.encode('Hello world');
  await collect(() => sentencePieceProcessorCount() === 1);
  const start = sentencePieceProcessorCount();
  let held: Awaited<ReturnType<typeof loadTokenizer>>[] = [];
  for (let i = 0; i < 12; i++) {
    const dir = path.join(root, `m${i}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'XGLMTokenizer' }));
    fs.writeFileSync(path.join(dir, 'sentencepiece.bpe.model'), unigramModelProto(corpusPieces([`word${i} other${i} word${i}`])));
    held.push(await loadTokenizer(dir));
  }
  await collect(() => false);
  assert.is(sentencePieceProcessorCount(), start + 12, 'referenced tokenizers keep their processors');
  held.forEach((t, i) => assert.equal(t.tokenize(`word${i}`), [`▁word${i}`]));
  held = [];
  await collect(() => sentencePieceProcessorCount() === start);
  assert.is(sentencePieceProcessorCount(), start, 'processors left after the tokenizers were collected');
  assert.equal(live.encode('Hello world'), liveIds, 'the tokenizer still referenced is untouched');
});

test.run();
