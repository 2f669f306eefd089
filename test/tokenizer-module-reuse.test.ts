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

test.run();
