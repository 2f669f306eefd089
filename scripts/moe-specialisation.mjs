#!/usr/bin/env node
/**
 * Expert specialisation of an NLLB-MoE model on a translation JSONL file (eval mode):
 *   node scripts/moe-specialisation.mjs MODEL DATA.jsonl [--backend wasm] [--limit 300]
 * Per sparse layer: top-1 usage histogram over real tokens, mean router entropy (nats; log E =
 * uniform), and how much the top-1 expert depends on the token: I(expert; token id) / H(expert)
 * (0 = the router ignores the token, 1 = the token decides the expert), plus how far the experts'
 * fc1 weights moved apart (mean ||W_e - mean_e W|| / ||mean_e W||; 0 for fresh upcycled copies).
 */
import * as fs from 'node:fs';
import { selectBackend, tf, NllbMoeForConditionalGeneration, loadTokenizer, encodeTranslation, collateSeq2Seq, batchTensors } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const [modelDir, data] = args;
await selectBackend(opt('--backend', 'wasm'));
const model = await NllbMoeForConditionalGeneration.fromPretrained(modelDir);
const tok = await loadTokenizer(modelDir);
const lines = fs.readFileSync(data, 'utf8').split('\n').filter(Boolean).slice(0, Number(opt('--limit', '300')));
const E = model.config.numExperts;
const stats = new Map(); // "side.layer" -> { usage, entropySum, n, joint: Map<token, counts> }
const stat = (k) => stats.get(k) ?? stats.set(k, { usage: new Array(E).fill(0), entropySum: 0, n: 0, joint: new Map() }).get(k);
for (let i = 0; i < lines.length; i += 20) {
  const ex = lines.slice(i, i + 20).map((l, j) => encodeTranslation(tok, l, `${data}:${i + j + 1}`, {}));
  const host = collateSeq2Seq(ex, { padId: model.config.padTokenId, decoderStartId: model.config.decoderStartTokenId, decoderAttentionMask: true });
  const batch = batchTensors(host);
  tf.tidy(() => {
    const r = model.forward({ inputIds: batch.input_ids, attentionMask: batch.attention_mask, decoderInputIds: batch.decoder_input_ids, decoderAttentionMask: batch.decoder_attention_mask, training: false });
    for (const [side, routers, ids, mask] of [['encoder', r.encoderRouters, batch.input_ids, batch.attention_mask], ['decoder', r.decoderRouters, batch.decoder_input_ids, batch.decoder_attention_mask]]) {
      const idv = ids.dataSync();
      const mv = mask.dataSync();
      routers.forEach((rt, layer) => {
        if (!rt) return;
        const s = stat(`${side}.${layer}`);
        const logits = rt.logits.dataSync();
        for (let t = 0; t < idv.length; t++) {
          if (!mv[t]) continue;
          const e = rt.plan.top1[t];
          s.usage[e]++;
          const row = Array.from(logits.subarray(t * E, (t + 1) * E));
          const m = Math.max(...row);
          const z = row.reduce((a, x) => a + Math.exp(x - m), 0);
          s.entropySum -= row.reduce((a, x) => { const p = Math.exp(x - m) / z; return a + (p > 0 ? p * Math.log(p) : 0); }, 0);
          s.n++;
          const c = s.joint.get(idv[t]) ?? s.joint.set(idv[t], new Array(E).fill(0)).get(idv[t]);
          c[e]++;
        }
      });
    }
  });
  tf.dispose(Object.values(batch));
}
const H = (counts) => { const n = counts.reduce((a, b) => a + b, 0); return -counts.reduce((a, c) => a + (c ? (c / n) * Math.log(c / n) : 0), 0); };
const weights = new Map(model.namedParameters().map((p) => [p.name, p.variable.read()]));
for (const [k, s] of stats) {
  const hE = H(s.usage);
  let hCond = 0;
  for (const c of s.joint.values()) hCond += (c.reduce((a, b) => a + b, 0) / s.n) * H(c);
  const [side, layer] = k.split('.');
  const fc1 = Array.from({ length: E }, (_, e) => weights.get(`model.${side}.layers.${layer}.ffn.experts.expert_${e}.fc1.weight`));
  const spread = tf.tidy(() => {
    const mean = tf.mean(tf.stack(fc1), 0);
    const n = tf.norm(mean).dataSync()[0];
    return fc1.reduce((a, w) => a + tf.norm(tf.sub(w, mean)).dataSync()[0] / n, 0) / E;
  });
  console.log(`${k}: top-1 usage [${s.usage.join(', ')}] of ${s.n} tokens; router entropy ${(s.entropySum / s.n).toFixed(3)} (uniform ${Math.log(E).toFixed(3)}); I(expert; token)/H(expert) ${((hE - hCond) / hE).toFixed(3)}; expert fc1 spread ${spread.toFixed(4)}`);
}
model.dispose();
