/**
 * NLLB-MoE as three graph models (the layout of optimum's seq2seq exports):
 *  - encoder_model: input_ids, attention_mask [B, S] int32 -> last_hidden_state [B, S, d]
 *  - decoder_model: input_ids [B, T] (decoder ids), decoder_attention_mask [B, T],
 *      encoder_hidden_states [B, S, d], encoder_attention_mask [B, S] -> logits [B, T, V], present.{i}.decoder.key/value
 *      [B, heads, T, hd] and present.{i}.encoder.key/value [B, heads, S, hd] (cross-attention cache)
 *  - decoder_with_past_model: input_ids [B, T], decoder_attention_mask [B, P + T], encoder_attention_mask [B, S],
 *      past_key_values.{i}.decoder.key/value [B, heads, P, hd], past_key_values.{i}.encoder.key/value
 *      [B, heads, S, hd] -> logits, present.{i}.decoder.key/value [B, heads, P + T, hd].
 * MoE routing runs in eval semantics inside the graph (top-2, capacity from
 * moe_eval_capacity_token_fraction of the call's tokens), recorded from the model's own code.
 * decoder_attention_mask as HF's forward: padding keys are masked and padding tokens are not
 * routed (router_ignore_padding_tokens = false), so they take no expert capacity. HF generate
 * passes none, which equals all ones.
 */
import type { NllbMoeForConditionalGeneration, DecoderCache } from './model.js';
import { PolyglotError } from '../../core/errors.js';
import { GraphOps, type GraphExport, type GraphNode, type RecordedGraph } from '../../ops/graph.js';

export type NllbGraphKind = 'encoder' | 'decoder' | 'decoder_with_past';

export function recordNllbMoeGraph(lm: NllbMoeForConditionalGeneration, kind: NllbGraphKind): RecordedGraph {
  const c = lm.config;
  if (c.decoderAttentionHeads <= 0 || c.dModel % c.decoderAttentionHeads !== 0) {
    throw new PolyglotError(`config.json: d_model ${c.dModel} is not divisible by decoder_attention_heads ${c.decoderAttentionHeads}`);
  }
  const params = new Set(lm.namedParameters().map((p) => p.name));
  // Router classifiers stay float32 under --quantize: HF runs them in router_dtype (float32)
  // even for half-precision models, and a quantized router flips discrete expert choices.
  const quantizable = (n: string) => params.has(n) && !/\.router\.classifier\./.test(n);
  const g = new GraphOps({ isParameter: quantizable });
  const opts = { training: false };
  if (kind === 'encoder') {
    const ids = g.input('input_ids', 'int32', [null, null]);
    const mask = g.input('attention_mask', 'int32', [null, null]);
    g.output('last_hidden_state', lm.model.encode(g, ids, mask, opts).lastHiddenState);
    return g.finish();
  }
  const H = c.decoderAttentionHeads;
  const hd = c.dModel / H;
  const ids = g.input('input_ids', 'int32', [null, null]);
  const decoderMask = g.input('decoder_attention_mask', 'int32', [null, null]);
  let encoderHidden: GraphNode | undefined;
  if (kind === 'decoder') encoderHidden = g.input('encoder_hidden_states', 'float32', [null, null, c.dModel]);
  const encoderMask = g.input('encoder_attention_mask', 'int32', [null, null]);
  let past: DecoderCache<GraphNode>[] | undefined;
  if (kind === 'decoder_with_past') {
    past = [];
    for (let i = 0; i < c.decoderLayers; i++) {
      const kv = (side: string) => ({
        key: g.input(`past_key_values.${i}.${side}.key`, 'float32', [null, H, null, hd]),
        value: g.input(`past_key_values.${i}.${side}.value`, 'float32', [null, H, null, hd]),
      });
      past.push({ self: kv('decoder'), cross: kv('encoder') });
    }
  }
  const pastLength = past ? g.shape(past[0].self.key)[2] : 0;
  const dec = lm.model.decode(g, ids, decoderMask, encoderHidden, encoderMask, past, pastLength, opts);
  // lm.project: the tied embedding, or the separate lm_head of a tie_word_embeddings=false model.
  g.output('logits', lm.project(g, dec.lastHiddenState));
  dec.present.forEach((p, i) => {
    g.output(`present.${i}.decoder.key`, p.self.key);
    g.output(`present.${i}.decoder.value`, p.self.value);
    if (kind === 'decoder') {
      g.output(`present.${i}.encoder.key`, p.cross.key);
      g.output(`present.${i}.encoder.value`, p.cross.value);
    }
  });
  return g.finish();
}

export const nllbMoeGraphExport: GraphExport<NllbMoeForConditionalGeneration> = {
  signatures: (model) => [
    { folder: 'encoder_model', purpose: 'Encoder: source tokens to hidden states (MoE routing in eval semantics).', record: () => recordNllbMoeGraph(model, 'encoder') },
    { folder: 'decoder_model', purpose: 'First decoder pass: decoder tokens attending to the encoder output; also returns the cross-attention cache.', record: () => recordNllbMoeGraph(model, 'decoder') },
    { folder: 'decoder_with_past_model', purpose: 'Decoding steps: new decoder tokens plus the self- and cross-attention caches.', record: () => recordNllbMoeGraph(model, 'decoder_with_past') },
  ],
  notes: (model) => {
    const n = model.config;
    return [
      'Token ids follow the copied tokenizer: source = `src_lang` code, pieces, `</s>` (2). NllbTokenizer: sentencepiece piece i is id i + 1, language-code ids are in tokenizer_config.json `added_tokens_decoder`. M2M100Tokenizer (vocab.json beside the model): pieces are numbered by vocab.json, language token `__xx__` i is len(vocab.json) + i.',
      `Generation as HF: the decoder starts from decoder_start_token_id = ${n.decoderStartTokenId}; the first generated token is forced to the target language code (forced_bos_token_id); stop at eos = ${n.eosTokenId}.`,
      '`decoder_attention_mask` ([B, P + T], 1 = real token) as in HF forward: padding keys are masked and padding tokens are not routed (take no expert capacity). Generation passes all ones (HF generate passes none, which is the same).',
      'Feed `present.{i}.decoder.*` back as `past_key_values.{i}.decoder.*` each step; the cross-attention cache `present.{i}.encoder.*` comes only from decoder_model and is fed as `past_key_values.{i}.encoder.*` unchanged.',
      `MoE layers route in eval semantics inside the graph: top-2 experts per token, expert capacity = ceil(moe_eval_capacity_token_fraction (${n.moeEvalCapacityTokenFraction}) x tokens in the call); the second expert policy is applied deterministically ("all").`,
      'Expert capacity depends on how many tokens a call holds (as in HF), so a batched or longer call can drop different assignments than single-token steps when the fraction is below 1.',
    ];
  },
};
