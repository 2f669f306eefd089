/**
 * M2M100 weights (the `WeightNaming` of the "m2m_100" format): the model's parameters keep their
 * NLLB-MoE names (the all-dense NLLB-MoE is what computes), and are read from / written as the
 * M2M100 spelling of m2m100-names.ts. Tied aliases and the missing / shape / dtype checks are
 * NLLB-MoE's (weights.ts); keys HF ignores (`embed_positions.weights`, `final_logits_bias`) are
 * never asked for.
 */
import type { WeightNaming } from '../checkpoint-format.js';
import type { NllbMoeConfig } from './config.js';
import { nllbMoeToM2m100Name } from './m2m100-names.js';
import { nllbMoeWeights } from './weights.js';

export const m2m100Weights: WeightNaming<NllbMoeConfig> = {
  checkpointName: (name, tensors, config) => nllbMoeWeights.checkpointName(nllbMoeToM2m100Name(name), tensors, config),
  hfName: nllbMoeToM2m100Name,
  check: nllbMoeWeights.check,
};
