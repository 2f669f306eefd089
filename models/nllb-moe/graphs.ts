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
import { GraphOps, type GraphNode, type RecordedGraph } from '../../ops/graph.js';

export type NllbGraphKind = 'encoder' | 'decoder' | 'decoder_with_past';

export function recordNllbMoeGraph(lm: NllbMoeForConditionalGeneration, kind: NllbGraphKind): RecordedGraph {
  const c = lm.config;
  if (c.decoderAttentionHeads <= 0 || c.dModel % c.decoderAttentionHeads !== 0) {
    throw new PolyglotError(`config.json: d_model ${c.dModel} is not divisible by decoder_attention_heads ${c.decoderAttentionHeads}`);
  }
  // the layers' own names (what o.weight sees), not a subclass's HF spelling (M2M100 renames them)
  const params = new Set([...lm.model.hfParameters(), ...(lm.lmHead?.hfParameters() ?? [])].map((p) => p.name));
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
