#!/usr/bin/env node
// Greedy translation with an NLLB-MoE graph export, using only @tensorflow/tfjs,
// sentencepiece-js and the exported folder:
//   polyglot export facebook/nllb-moe-54b --out nllb-graph
//   node examples/node/nllb-translate.mjs nllb-graph "Hello, world" eng_Latn fra_Latn 30
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import spjs from 'sentencepiece-js';
import { loadGraph } from '../lib/fs-handler.mjs';
import { addedTokenId, addedTokenIds, nllbSourceIds, toSpm } from '../lib/ids.mjs';
import { nllbGreedy } from '../lib/greedy.mjs';

const [dir, text, src = 'eng_Latn', tgt = 'fra_Latn', maxNew = '30'] = process.argv.slice(2);
if (!dir || text === undefined) {
  console.error('usage: node nllb-translate.mjs EXPORT_DIR "text" [src_lang] [tgt_lang] [max_new_tokens]');
  process.exit(2);
}
// sentencepiece-js (emscripten) rethrows uncaught errors with its whole source: report ours cleanly.
async function main() {
  const backend = process.env.TFJS_BACKEND ?? 'cpu';
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(backend))) throw new Error(`TFJS_BACKEND=${backend}: backend did not start`);
  const tokCfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const gen = JSON.parse(fs.readFileSync(path.join(dir, 'generation_config.json'), 'utf8'));
  const sp = new spjs.SentencePieceProcessor();
  await sp.load(path.join(dir, 'sentencepiece.bpe.model'));
  const models = {
    encoder: await loadGraph(path.join(dir, 'encoder_model')),
    decoder: await loadGraph(path.join(dir, 'decoder_model')),
    decoderWithPast: await loadGraph(path.join(dir, 'decoder_with_past_model')),
  };
  const srcIds = nllbSourceIds(sp.encodeIds(text), addedTokenId(tokCfg, src));
  const generated = await nllbGreedy(models, srcIds, {
    tgtLangId: addedTokenId(tokCfg, tgt),
    maxNewTokens: Number(maxNew),
    eosTokenId: gen.eos_token_id ?? 2,
    decoderStartTokenId: gen.decoder_start_token_id ?? 2,
  });
  console.log(JSON.stringify({ source_ids: srcIds, generated_ids: generated }));
  // language codes and </s> are added tokens / specials: decode only sentencepiece pieces
  console.log(sp.decodeIds(toSpm(generated, addedTokenIds(tokCfg))));
}

main().catch((e) => {
  console.error(`error: ${e?.message ?? e}`);
  process.exit(1);
});
