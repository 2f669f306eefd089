#!/usr/bin/env node
// Greedy text generation with an XGLM graph export, using only @tensorflow/tfjs,
// sentencepiece-js and the exported folder:
//   polyglot export facebook/xglm-564M --out xglm-graph
//   node examples/node/xglm-generate.mjs xglm-graph "The capital of France is" 20
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import spjs from 'sentencepiece-js';
import { loadGraph } from '../lib/fs-handler.mjs';
import { addedTokenIds, xglmPromptIds, toSpm } from '../lib/ids.mjs';
import { xglmGreedy } from '../lib/greedy.mjs';
import { continuation } from '../lib/continuation.mjs';

const [dir, prompt, maxNew = '20'] = process.argv.slice(2);
if (!dir || prompt === undefined) {
  console.error('usage: node xglm-generate.mjs EXPORT_DIR "prompt" [max_new_tokens]');
  process.exit(2);
}
// sentencepiece-js (emscripten) rethrows uncaught errors with its whole source: report ours cleanly.
async function main() {
  const backend = process.env.TFJS_BACKEND ?? 'cpu';
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(backend))) throw new Error(`TFJS_BACKEND=${backend}: backend did not start`);
  const sp = new spjs.SentencePieceProcessor();
  await sp.load(path.join(dir, 'sentencepiece.bpe.model'));
  const models = { decoder: await loadGraph(path.join(dir, 'decoder_model')), decoderWithPast: await loadGraph(path.join(dir, 'decoder_with_past_model')) };
  const promptIds = xglmPromptIds(sp.encodeIds(prompt));
  const generated = await xglmGreedy(models, promptIds, { maxNewTokens: Number(maxNew), eosTokenId: 2 });
  const added = addedTokenIds(JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')));
  console.log(JSON.stringify({ prompt_ids: promptIds, generated_ids: generated }));
  console.log(prompt + continuation((ids) => sp.decodeIds(ids), toSpm(promptIds, added), toSpm(generated, added)));
}

main().catch((e) => {
  console.error(`error: ${e?.message ?? e}`);
  process.exit(1);
});
