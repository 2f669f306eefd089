/**
 * The examples (stock @tensorflow/tfjs + an export folder + a minimal tokenizer) generate and
 * translate exactly what Hugging Face's greedy search gives on the fixtures.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { SafetensorsFile } from '../convert/safetensors.js';
import { loadTokenizer } from '../tokenizers/load.js';
import { continuationText } from '../generation/generate-text.js';
import { fixturePath } from './helpers.js';
import { examplesDir, exportFixtures, importExample, type FsHandlerModule, type GreedyModule, type MiniSpmModule } from './export-examples-shared.js';

let dirs: { root: string; xglm: string; nllb: string };
let greedy: GreedyModule;
let fsh: FsHandlerModule;

function rows(fixture: string, name: string): number[][] {
  const h = SafetensorsFile.open(fixturePath(fixture, 'reference', 'tensors.safetensors')).read(name);
  const v = Array.from(h.data as ArrayLike<number | bigint>, Number);
  return Array.from({ length: h.shape[0] }, (_, i) => v.slice(i * h.shape[1], (i + 1) * h.shape[1]));
}

/** HF sequences pad finished rows with pad_token_id after eos: keep up to and including eos. */
function untilEos(ids: number[], eos = 2): number[] {
  const k = ids.indexOf(eos);
  return k < 0 ? ids : ids.slice(0, k + 1);
}

test.before(async () => {
  await tf.setBackend('cpu');
  dirs = await exportFixtures();
  greedy = await importExample<GreedyModule>('lib/greedy.mjs');
  fsh = await importExample<FsHandlerModule>('lib/fs-handler.mjs');
});

test('XGLM example decoding reproduces HF greedy generation (generate_greedy_left_padded)', async () => {
  const models = { decoder: await fsh.loadGraph(path.join(dirs.xglm, 'decoder_model')), decoderWithPast: await fsh.loadGraph(path.join(dirs.xglm, 'decoder_with_past_model')) };
  const ids = rows('xglm-tiny', 'generate_greedy_left_padded/input_ids');
  const mask = rows('xglm-tiny', 'generate_greedy_left_padded/attention_mask');
  const seqs = rows('xglm-tiny', 'generate_greedy_left_padded/sequences');
  const before = tf.memory().numTensors;
  for (let r = 0; r < ids.length; r++) {
    // left padding removed: HF's cumsum positions make the padded run equal to this one
    const prompt = ids[r].filter((_, t) => mask[r][t] === 1);
    const got = await greedy.xglmGreedy(models, prompt, { maxNewTokens: 12, eosTokenId: 2 });
    assert.equal(got, untilEos(seqs[r].slice(ids[r].length)), `row ${r}`);
  }
  assert.is(tf.memory().numTensors, before, 'the example loop leaks no tensors');
});

test('NLLB-MoE example translation reproduces HF greedy generation (forced target language)', async () => {
  const models = {
    encoder: await fsh.loadGraph(path.join(dirs.nllb, 'encoder_model')),
    decoder: await fsh.loadGraph(path.join(dirs.nllb, 'decoder_model')),
    decoderWithPast: await fsh.loadGraph(path.join(dirs.nllb, 'decoder_with_past_model')),
  };
  const ids = rows('nllb-moe-tiny', 'generate_greedy/input_ids');
  const mask = rows('nllb-moe-tiny', 'generate_greedy/attention_mask');
  const seqs = rows('nllb-moe-tiny', 'generate_greedy/sequences');
  const before = tf.memory().numTensors;
  for (let r = 0; r < ids.length; r++) {
    const src = ids[r].filter((_, t) => mask[r][t] === 1);
    const got = await greedy.nllbGreedy(models, src, { tgtLangId: 1057, maxNewTokens: 10, eosTokenId: 2, decoderStartTokenId: 2 });
    assert.equal(got, untilEos(seqs[r].slice(1)), `row ${r}`);
  }
  assert.is(tf.memory().numTensors, before, 'the example loop leaks no tensors');
});

test('the same examples run on the stock wasm backend (HF greedy sequences again)', async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  assert.ok(await tf.setBackend('wasm'), 'wasm backend starts');
  try {
    const x = { decoder: await fsh.loadGraph(path.join(dirs.xglm, 'decoder_model')), decoderWithPast: await fsh.loadGraph(path.join(dirs.xglm, 'decoder_with_past_model')) };
    const xs = rows('xglm-tiny', 'generate_greedy_left_padded/sequences')[1];
    assert.equal(await greedy.xglmGreedy(x, xs.slice(0, 9), { maxNewTokens: 12 }), untilEos(xs.slice(9)));
    const n = {
      encoder: await fsh.loadGraph(path.join(dirs.nllb, 'encoder_model')),
      decoder: await fsh.loadGraph(path.join(dirs.nllb, 'decoder_model')),
      decoderWithPast: await fsh.loadGraph(path.join(dirs.nllb, 'decoder_with_past_model')),
    };
    const src = rows('nllb-moe-tiny', 'generate_greedy/input_ids')[1].slice(0, 6);
    const ns = rows('nllb-moe-tiny', 'generate_greedy/sequences')[1];
    assert.equal(await greedy.nllbGreedy(n, src, { tgtLangId: 1057, maxNewTokens: 10 }), untilEos(ns.slice(1)));
  } finally {
    await tf.setBackend('cpu');
  }
});

test('node example scripts run end to end with the HF token ids', async () => {
  const text = 'Hello world, this is';
  const x = spawnSync(process.execPath, [path.join(examplesDir, 'node', 'xglm-generate.mjs'), dirs.xglm, text, '6'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(x.status, 0, x.stderr.slice(-500));
  const xr = JSON.parse(x.stdout.split('\n').find((l) => l.startsWith('{'))!);
  const xtok = await loadTokenizer(fixturePath('xglm-tiny'));
  assert.equal(xr.prompt_ids, xtok.encode(text));
  assert.is(xr.generated_ids.length, 6);
  // the prompt as typed, then what HF's text-generation pipeline decodes for the new ids: no space the model did not generate
  const printed = x.stdout.split('\n')[x.stdout.split('\n').findIndex((l) => l.startsWith('{')) + 1];
  assert.is(printed, text + continuationText(xtok, xr.prompt_ids, xr.generated_ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }));
  const n = spawnSync(process.execPath, [path.join(examplesDir, 'node', 'nllb-translate.mjs'), dirs.nllb, text, 'eng_Latn', 'fra_Latn', '5'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(n.status, 0, n.stderr.slice(-500));
  const nr = JSON.parse(n.stdout.split('\n').find((l) => l.startsWith('{'))!);
  const ntok = await loadTokenizer(fixturePath('nllb-moe-tiny'));
  assert.equal(nr.source_ids, ntok.encode(text));
  assert.is(nr.generated_ids[0], 1057, 'first token forced to fra_Latn');
  // a bad language code is a clear error, not an emscripten dump
  const bad = spawnSync(process.execPath, [path.join(examplesDir, 'node', 'nllb-translate.mjs'), dirs.nllb, text, 'xx_Yyyy', 'fra_Latn', '2'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /error: tokenizer_config\.json: no added token "xx_Yyyy"/);
});

test('the web page tokenizer (minimal sentencepiece BPE) equals sentencepiece on every tokenizer fixture text', async () => {
  const { MiniSentencePiece } = await importExample<MiniSpmModule>('lib/mini-spm.mjs');
  const spm = MiniSentencePiece.fromBytes(new Uint8Array(fs.readFileSync(fixturePath('tokenizer', 'sentencepiece.bpe.model'))));
  const cases = JSON.parse(fs.readFileSync(fixturePath('tokenizer', 'cases.json'), 'utf8')).cases as { tokenizer: string; text: string; text_pair?: string; add_special_tokens?: boolean; as_target?: boolean; src_lang?: string; input_ids: number[] }[];
  let checked = 0;
  for (const c of cases) {
    // plain XGLM encodings: "</s>" + pieces; texts with literal special tokens need the full tokenizer
    if (c.tokenizer !== 'xglm' || c.text_pair !== undefined || c.add_special_tokens === false || /<\/?s>|<unk>|<pad>|<madeupword/.test(c.text)) continue;
    const ids = [2, ...spm.encodeIds(c.text).map((i) => (i === 0 ? 3 : i + 1))];
    assert.equal(ids, c.input_ids, JSON.stringify(c.text));
    checked++;
  }
  assert.ok(checked >= 10, `only ${checked} cases checked`);
});

test.after(() => fs.rmSync(dirs.root, { recursive: true, force: true }));

test.run();
