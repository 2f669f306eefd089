// Greedy decoding over tfjs-polyglot graph exports, with stock @tensorflow/tfjs only.
// Shared by the Node examples and the web page (which maps '@tensorflow/tfjs' with an import map).
import * as tf from '@tensorflow/tfjs';

/** Output names starting with "present." of a loaded graph (its cache), in signature order. */
function presentNames(model) {
  return Object.keys(model.signature.outputs).filter((n) => n.startsWith('present.'));
}

/** Greedy next token of each row from the last position of logits [B, T, V]. */
function lastArgmax(logits) {
  return tf.tidy(() => {
    const [b, t, v] = logits.shape;
    return tf.argMax(tf.reshape(tf.slice(logits, [0, t - 1, 0], [b, 1, v]), [b, v]), -1).arraySync();
  });
}

const asPast = (name) => name.replace(/^present\./, 'past_key_values.');

/**
 * XGLM: `promptIds` (one row, with the leading </s> the tokenizer adds) -> generated ids.
 * models: { decoder, decoderWithPast } from tf.loadGraphModel.
 */
export async function xglmGreedy(models, promptIds, { maxNewTokens = 20, eosTokenId = 2, onToken } = {}) {
  const out = [];
  let cache = {};
  let length = 0; // tokens already in the cache
  let newIds = promptIds;
  for (let step = 0; step < maxNewTokens; step++) {
    const T = newIds.length;
    const feed = {
      input_ids: tf.tensor2d([newIds], [1, T], 'int32'),
      attention_mask: tf.ones([1, length + T], 'int32'),
      position_ids: tf.tensor2d([Array.from({ length: T }, (_, i) => length + i)], [1, T], 'int32'),
    };
    const model = step === 0 ? models.decoder : models.decoderWithPast;
    for (const [n, t] of Object.entries(cache)) feed[asPast(n)] = t;
    const names = presentNames(model);
    const [logits, ...presents] = model.execute(feed, ['logits', ...names]);
    tf.dispose(Object.values(feed));
    cache = Object.fromEntries(names.map((n, i) => [n, presents[i]]));
    const next = lastArgmax(logits)[0];
    logits.dispose();
    out.push(next);
    if (onToken) await onToken(next);
    length += T;
    newIds = [next];
    if (next === eosTokenId) break;
  }
  tf.dispose(Object.values(cache));
  return out;
}

/**
 * NLLB-MoE: `srcIds` (one row: src_lang ... </s>) -> generated target ids. As HF generate:
 * the decoder starts from decoder_start_token_id (</s>) and the first generated token is
 * forced to the target language code (forced_bos_token_id).
 * models: { encoder, decoder, decoderWithPast }.
 */
export async function nllbGreedy(models, srcIds, { tgtLangId, maxNewTokens = 20, eosTokenId = 2, decoderStartTokenId = 2, onToken } = {}) {
  const S = srcIds.length;
  const srcTensor = tf.tensor2d([srcIds], [1, S], 'int32');
  const srcMask = tf.ones([1, S], 'int32');
  const encoderHidden = models.encoder.execute({ input_ids: srcTensor, attention_mask: srcMask }, 'last_hidden_state');
  srcTensor.dispose();
  const out = [];
  let selfCache = {};
  let crossCache = null; // cross-attention keys/values: computed once by the first decoder call
  let token = decoderStartTokenId;
  for (let step = 0; step < maxNewTokens; step++) {
    const first = step === 0;
    const model = first ? models.decoder : models.decoderWithPast;
    const ids = tf.tensor2d([[token]], [1, 1], 'int32');
    // as HF generate: no decoder padding, i.e. an all-ones decoder_attention_mask over past + new tokens
    const decMask = tf.ones([1, step + 1], 'int32');
    const feed = { input_ids: ids, decoder_attention_mask: decMask, encoder_attention_mask: srcMask };
    if (first) feed.encoder_hidden_states = encoderHidden;
    for (const [n, t] of Object.entries({ ...selfCache, ...crossCache })) feed[asPast(n)] = t;
    const names = presentNames(model);
    const [logits, ...presents] = model.execute(feed, ['logits', ...names]);
    tf.dispose([ids, decMask, ...Object.values(selfCache)]);
    selfCache = {};
    names.forEach((n, i) => {
      if (/\.encoder\.(key|value)$/.test(n)) crossCache = { ...crossCache, [n]: presents[i] };
      else selfCache[n] = presents[i];
    });
    const next = first && tgtLangId != null ? tgtLangId : lastArgmax(logits)[0];
    logits.dispose();
    out.push(next);
    if (onToken) await onToken(next);
    token = next;
    if (next === eosTokenId) break;
  }
  tf.dispose([encoderHidden, srcMask, ...Object.values(selfCache), ...Object.values(crossCache ?? {})]);
  return out;
}
