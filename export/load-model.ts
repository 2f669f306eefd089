/**
 * Opens a checkpoint for export and builds the model it holds (with the models' own
 * weight loaders), with a clear error for anything the graph exporter cannot handle.
 */
import { PolyglotError } from '../core/errors.js';
import type { HfCheckpoint } from '../convert/checkpoint.js';
import { parseXGLMConfig } from '../models/xglm/config.js';
import { XGLMForCausalLM } from '../models/xglm/model.js';
import { loadXGLMWeights } from '../models/xglm/weights.js';
import type { NllbMoeForConditionalGeneration } from '../models/nllb-moe/model.js';
import { nllbMoeFromCheckpoint } from '../models/nllb-moe/weights.js';
import { m2m100FromCheckpoint } from '../models/m2m-100/model.js';

export type ExportableModel = { type: 'xglm'; model: XGLMForCausalLM } | { type: 'nllb-moe'; model: NllbMoeForConditionalGeneration };

export const EXPORTABLE_TYPES = ['xglm', 'nllb-moe'];

export function buildModelForExport(ck: HfCheckpoint): ExportableModel {
  const type = ck.config.model_type;
  if (type === 'xglm') {
    const lm = new XGLMForCausalLM(parseXGLMConfig(ck.config, `${ck.dir}/config.json`));
    try {
      loadXGLMWeights(lm, ck.tensors, ck.dir);
    } catch (e) {
      lm.dispose();
      throw e;
    }
    return { type, model: lm };
  }
  if (type === 'nllb-moe' || type === 'nllb_moe') return { type: 'nllb-moe', model: nllbMoeFromCheckpoint(ck) };
  if (type === 'm2m_100') return { type: 'nllb-moe', model: m2m100FromCheckpoint(ck) };
  throw new PolyglotError(`${ck.dir}/config.json: field "model_type": expected one of ${EXPORTABLE_TYPES.join(', ')} to export as a graph model, found ${JSON.stringify(type)}`);
}
