// The web page's logic: load the export folder with tf.loadGraphModel (stock tfjs), tokenize
// with the minimal sentencepiece reader, decode greedily, stream tokens into the page.
import * as tf from '@tensorflow/tfjs';
import { MiniSentencePiece } from '../lib/mini-spm.mjs';
import { addedTokenId, addedTokenIds, nllbSourceIds, toSpm, xglmPromptIds } from '../lib/ids.mjs';
import { nllbGreedy, xglmGreedy } from '../lib/greedy.mjs';
import { continuation } from '../lib/continuation.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
for (const k of ['task', 'model', 'text', 'src', 'tgt', 'max']) if (params.has(k)) $(k).value = params.get(k);
if (!$('model').value) $('model').value = $('task').value === 'nllb' ? './nllb/' : './xglm/';
const showLangs = () => ($('langs').style.display = $('task').value === 'nllb' ? '' : 'none');
$('task').addEventListener('change', showLangs);
showLangs();

const status = (s) => ($('status').textContent = s);
const base = (u) => (u.endsWith('/') ? u : `${u}/`);

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}
async function fetchJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

const cache = new Map();
async function loadExport(url, folders) {
  const key = `${url}|${folders.join()}`;
  if (!cache.has(key)) {
    cache.set(key, (async () => {
      const graphs = {};
      for (const [name, folder] of folders.map((f) => [f.replace(/_model$/, '').replace(/_(\w)/g, (_, c) => c.toUpperCase()), f])) {
        status(`loading ${folder}...`);
        graphs[name] = await tf.loadGraphModel(`${url}${folder}/model.json`);
      }
      const spm = MiniSentencePiece.fromBytes(await fetchBytes(`${url}sentencepiece.bpe.model`));
      const tokCfg = await fetchJson(`${url}tokenizer_config.json`);
      const gen = await fetchJson(`${url}generation_config.json`).catch(() => ({}));
      return { graphs, spm, tokCfg, gen };
    })());
  }
  return cache.get(key);
}

async function run() {
  const task = $('task').value;
  const url = base($('model').value);
  const text = $('text').value;
  const maxNewTokens = Number($('max').value) || 20;
  $('output').textContent = '';
  const t0 = performance.now();
  let result;
  if (task === 'xglm') {
    const { graphs, spm, tokCfg, gen } = await loadExport(url, ['decoder_model', 'decoder_with_past_model']);
    const added = addedTokenIds(tokCfg);
    const promptIds = xglmPromptIds(spm.encodeIds(text));
    const out = [];
    status('generating...');
    $('output').textContent = text;
    const ids = await xglmGreedy({ decoder: graphs.decoder, decoderWithPast: graphs.decoderWithPast }, promptIds, {
      maxNewTokens,
      eosTokenId: gen.eos_token_id ?? 2,
      onToken: async (id) => {
        out.push(id);
        $('output').textContent = text + continuation((ids) => spm.decodeIds(ids), toSpm(promptIds, added), toSpm(out, added));
        await new Promise((r) => setTimeout(r, 0)); // let the page repaint
      },
    });
    result = { task, input_ids: promptIds, generated_ids: ids, text: $('output').textContent };
  } else {
    const { graphs, spm, tokCfg, gen } = await loadExport(url, ['encoder_model', 'decoder_model', 'decoder_with_past_model']);
    const added = addedTokenIds(tokCfg);
    const srcIds = nllbSourceIds(spm.encodeIds(text), addedTokenId(tokCfg, $('src').value));
    const out = [];
    status('translating...');
    const ids = await nllbGreedy({ encoder: graphs.encoder, decoder: graphs.decoder, decoderWithPast: graphs.decoderWithPast }, srcIds, {
      tgtLangId: addedTokenId(tokCfg, $('tgt').value),
      maxNewTokens,
      eosTokenId: gen.eos_token_id ?? 2,
      decoderStartTokenId: gen.decoder_start_token_id ?? 2,
      onToken: async (id) => {
        out.push(id);
        $('output').textContent = spm.decodeIds(toSpm(out, added));
        await new Promise((r) => setTimeout(r, 0));
      },
    });
    result = { task, input_ids: srcIds, generated_ids: ids, text: $('output').textContent };
  }
  status(`done in ${((performance.now() - t0) / 1000).toFixed(2)} s on ${tf.getBackend()}`);
  return result;
}

async function start() {
  if (params.has('backend')) await tf.setBackend(params.get('backend'));
  await tf.ready();
  $('form').addEventListener('submit', (e) => {
    e.preventDefault();
    run().catch((err) => status(`error: ${err.message}`));
  });
  if (params.get('autorun') === '1') {
    let report;
    try {
      report = { ok: true, ...(await run()), backend: tf.getBackend() };
    } catch (err) {
      console.error(err);
      status(`error: ${err.message}`);
      report = { ok: false, error: String(err?.message ?? err), stack: String(err?.stack ?? '') };
    }
    // Headless tests ask the page to post its result back to the server that served it.
    if (params.has('report')) await fetch(params.get('report'), { method: 'POST', body: JSON.stringify(report) });
  }
}

start().catch((err) => status(`error: ${err.message}`));
