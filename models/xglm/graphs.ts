/**
 * XGLM as two graph models (the layout of optimum's decoder exports):
 *  - decoder_model: input_ids, attention_mask, position_ids [B, T] int32
 *      -> logits [B, T, V], present.{i}.key / present.{i}.value [B, heads, T, head_dim]
 *  - decoder_with_past_model: the same plus past_key_values.{i}.key / .value [B, heads, P, head_dim],
 *      attention_mask then covers past + new tokens [B, P + T]; presents are [B, heads, P + T, head_dim].
 * The graphs are recorded from the model's own Ops-generic `run` (eval mode).
 */
import type { XGLMForCausalLM } from './model.js';
import type { KeyValue } from '../../layers/attention.js';
import { GraphOps, type GraphExport, type GraphNode, type RecordedGraph } from '../../ops/graph.js';

export function recordXglmGraph(model: XGLMForCausalLM, withPast: boolean): RecordedGraph {
  const c = model.config;
  const params = new Set(model.namedParameters().map((p) => p.name));
  const g = new GraphOps({ isParameter: (n) => params.has(n) });
  const headDim = c.dModel / c.attentionHeads;
  const inputIds = g.input('input_ids', 'int32', [null, null]);
  const attentionMask = g.input('attention_mask', 'int32', [null, null]);
  const positionIds = g.input('position_ids', 'int32', [null, null]);
  let past: KeyValue<GraphNode>[] | undefined;
  if (withPast) {
    past = [];
    for (let i = 0; i < c.numLayers; i++) {
      past.push({
        key: g.input(`past_key_values.${i}.key`, 'float32', [null, c.attentionHeads, null, headDim]),
        value: g.input(`past_key_values.${i}.value`, 'float32', [null, c.attentionHeads, null, headDim]),
      });
    }
  }
  const r = model.run(g, { inputIds, attentionMask, positionIds, past, training: false });
  g.output('logits', r.logits);
  r.presents.forEach((kv, i) => {
    g.output(`present.${i}.key`, kv.key);
    g.output(`present.${i}.value`, kv.value);
  });
  return g.finish();
}

export const xglmGraphExport: GraphExport<XGLMForCausalLM> = {
  signatures: (model) => [
    { folder: 'decoder_model', purpose: 'Prompt pass: every token of the prompt, no cache.', record: () => recordXglmGraph(model, false) },
    { folder: 'decoder_with_past_model', purpose: 'Decoding steps: new tokens plus the key/value cache of earlier ones.', record: () => recordXglmGraph(model, true) },
  ],
  notes: () => [
    'Token ids follow XGLMTokenizer: a prompt starts with `</s>` (id 2); sentencepiece piece i is id i + 1; `<pad>` = 1.',
    '`position_ids`: 0..T-1 for an unpadded prompt; for left padding use cumsum(attention_mask) - 1 with padded positions set to 1 (what HF generate does). In decoding steps pass the absolute position of each new token.',
    '`attention_mask` of decoder_with_past_model covers past and new tokens ([B, P + T]).',
    'The logits of the last position give the next token; feed `present.*` back as `past_key_values.*`.',
  ],
};
