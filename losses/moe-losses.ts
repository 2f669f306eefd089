/**
 * NLLB-MoE router losses (docs/NLLB-MOE.md sections 4 and 4b).
 *
 * - "standard" (our default): per sparse layer, over that side's non-padding tokens, Switch
 *   load balancing `E * sum_e f_e P_e` on the raw router softmax (top-1 before capacity) plus the
 *   ST-MoE z-loss `mean logsumexp(z)^2`; averaged over a side's sparse layers;
 *   `loss = lm + aux_coef (enc_aux + dec_aux) + z_coef (enc_z + dec_z)`.
 * - "hf": HF's exact total: `load_balancing_loss_func` on the concatenated post-capacity gates
 *   (closed form `E * sum_e C_e / N * P0_e`), no z-loss, and the decoder aux loss taken from the
 *   ENCODER routers (HF indexes the wrong output field), so `loss = lm + coef * 2 * enc_aux`;
 *   only when `output_router_logits`.
 */
import { PolyglotError } from '../core/errors.js';
import type { Ops } from '../ops/ops.js';
import { expertOneHot } from '../layers/moe/router.js';

export type MoeLossMode = 'standard' | 'hf';

/** One sparse layer's router outputs, as the loss needs them. */
export interface RouterLossInput<T> {
  /** Raw router logits [N, E] (float32). */
  logits: T;
  /** Post-capacity combine weights [N, E] (HF's "router_probs"). */
  combineWeights: T;
  /** HF's top-1 index [N] int32 (0 when dropped / masked). */
  top1Index: T;
}

/**
 * HF `load_balancing_loss_func(*_unpack_router_logits(layers))`, closed form:
 * `E * sum_e (C_e / N) * P0_e`, C_e = (token, layer) pairs with top-1 index e, P0 = mean gates of
 * the FIRST sparse layer. Returns undefined when there are no sparse layers (HF would fail).
 */
export function hfLoadBalancingLoss<T>(o: Ops<T>, layers: RouterLossInput<T>[], numExperts: number): T | undefined {
  if (layers.length === 0) return undefined;
  const E = numExperts;
  const N = o.shape(layers[0].combineWeights)[0];
  let counts: T | undefined;
  for (const l of layers) {
    const c = o.sum(expertOneHot(o, l.top1Index, E), 0);
    counts = counts === undefined ? c : o.add(counts, c);
  }
  const nF = typeof N === 'number' ? o.scalar(N) : o.cast(N, 'float32');
  const p0 = o.mean(layers[0].combineWeights, 0);
  return o.mul(o.scalar(E), o.sum(o.mul(o.div(counts!, nF), p0), 0));
}

/**
 * Switch aux + z-loss of one layer over the tokens where `tokenMask` ([N] float, 1 = counted)
 * is 1. `f_e` uses the top-1 of the raw softmax (piecewise constant: no gradient through it).
 */
export function standardRouterLosses<T>(o: Ops<T>, logits: T, tokenMask: T, numExperts: number): { aux: T; z: T } {
  const E = numExperts;
  const probs = o.softmax(logits);
  const m = o.expandDims(tokenMask, 1);
  const count = o.maximum(o.sum(tokenMask, 0), o.scalar(1));
  const top1 = expertOneHot(o, o.argMax(probs, 1), E);
  const f = o.div(o.sum(o.mul(top1, m), 0), count);
  const P = o.div(o.sum(o.mul(probs, m), 0), count);
  const aux = o.mul(o.scalar(E), o.sum(o.mul(f, P), 0));
  // logsumexp, stabilised by the row max (a constant shift: gradient unchanged).
  const mx = o.max(logits, 1, true);
  const lse = o.add(o.squeeze(mx, [1]), o.log(o.sum(o.exp(o.sub(logits, mx)), 1)));
  const z = o.div(o.sum(o.mul(o.square(lse), tokenMask), 0), count);
  return { aux, z };
}

export interface MoeLossInputs<T> {
  lmLoss: T;
  encoder: RouterLossInput<T>[];
  decoder: RouterLossInput<T>[];
  /** [Nenc] float, 1 = non-padding encoder token (standard mode). */
  encoderTokenMask: T;
  /** [Ndec] float, 1 = non-padding decoder token (standard mode). */
  decoderTokenMask: T;
  numExperts: number;
  auxCoef: number;
  zCoef: number;
  /** HF mode: add the aux loss only when output_router_logits (HF's condition). */
  outputRouterLogits: boolean;
}

export interface MoeLossResult<T> {
  loss: T;
  components: Record<string, T>;
}

function meanOf<T>(o: Ops<T>, xs: T[]): T {
  if (xs.length === 0) return o.scalar(0);
  let acc = xs[0];
  for (let i = 1; i < xs.length; i++) acc = o.add(acc, xs[i]);
  return xs.length === 1 ? acc : o.div(acc, o.scalar(xs.length));
}

export function moeLoss<T>(o: Ops<T>, mode: MoeLossMode, inp: MoeLossInputs<T>): MoeLossResult<T> {
  if (mode === 'standard') {
    const enc = inp.encoder.map((l) => standardRouterLosses(o, l.logits, inp.encoderTokenMask, inp.numExperts));
    const dec = inp.decoder.map((l) => standardRouterLosses(o, l.logits, inp.decoderTokenMask, inp.numExperts));
    const encAux = meanOf(o, enc.map((x) => x.aux));
    const decAux = meanOf(o, dec.map((x) => x.aux));
    const encZ = meanOf(o, enc.map((x) => x.z));
    const decZ = meanOf(o, dec.map((x) => x.z));
    const loss = o.add(
      o.add(inp.lmLoss, o.mul(o.scalar(inp.auxCoef), o.add(encAux, decAux))),
      o.mul(o.scalar(inp.zCoef), o.add(encZ, decZ)),
    );
    return {
      loss,
      components: { lm_loss: inp.lmLoss, encoder_aux_loss: encAux, decoder_aux_loss: decAux, encoder_z_loss: encZ, decoder_z_loss: decZ },
    };
  }
  if (mode !== 'hf') throw new PolyglotError(`moeLoss: expected "standard" or "hf", found ${JSON.stringify(mode)}`);
  const encAux = hfLoadBalancingLoss(o, inp.encoder, inp.numExperts) ?? o.scalar(0);
  // HF bug (modeling_nllb_moe.py: decoder_router_logits = outputs[4] is encoder_router_logits).
  const decAux = encAux;
  const decAuxTrue = hfLoadBalancingLoss(o, inp.decoder, inp.numExperts) ?? o.scalar(0);
  const loss = inp.outputRouterLogits
    ? o.add(inp.lmLoss, o.mul(o.scalar(inp.auxCoef), o.add(encAux, decAux)))
    : inp.lmLoss;
  return {
    loss,
    components: { lm_loss: inp.lmLoss, encoder_aux_loss: encAux, decoder_aux_loss: decAux, decoder_aux_loss_real_routers: decAuxTrue },
  };
}
