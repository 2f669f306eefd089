/**
 * NLLB-MoE weights by HF name (the `WeightNaming` of the "nllb-moe" format). Safetensors
 * checkpoints keep `model.shared.weight` and drop the tied aliases (`lm_head.weight`,
 * `model.{encoder,decoder}.embed_tokens.weight`); `.bin` checkpoints keep all four names: any of
 * them fills the shared embedding. Reading (and transposing Linear weights once) is models/pretrained.ts's.
 */
import { PolyglotError } from '../../core/errors.js';
import type { NamedParameter } from '../../core/trainable.js';
import type { TensorSource } from '../../convert/checkpoint.js';
import type { WeightNaming } from '../checkpoint-format.js';
import { FLOAT_DTYPES, hfShape, loadWeightsInto } from '../pretrained.js';
import type { NllbMoeConfig } from './config.js';

const SHARED = 'model.shared.weight';
const SHARED_ALIASES = [SHARED, 'model.encoder.embed_tokens.weight', 'model.decoder.embed_tokens.weight', 'lm_head.weight'];

/** The names that may hold the shared embedding; an untied lm_head (tie_word_embeddings false) is a parameter of its own, not an alias. */
function sharedAliases(config: NllbMoeConfig): string[] {
  return config.tieWordEmbeddings ? SHARED_ALIASES : SHARED_ALIASES.slice(0, 3);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export const nllbMoeWeights: WeightNaming<NllbMoeConfig> = {
  checkpointName(name, tensors, config) {
    if (name !== SHARED || tensors.has(name)) return tensors.has(name) ? name : undefined;
    return sharedAliases(config).find((n) => tensors.has(n));
  },
  hfName: (name) => name,
  check(params, tensors, where, config) {
    for (const p of params) {
      const name = this.checkpointName(p.name, tensors, config);
      if (name === undefined && p.name === SHARED) {
        throw new PolyglotError(`${where}: no tensor "${SHARED}" (nor its tied aliases ${SHARED_ALIASES.slice(1).join(', ')})`);
      }
      // named as the format's checkpoints spell it (m2m100-weights.ts reuses this check with its own hfName)
      if (name === undefined) throw new PolyglotError(`${where}: missing tensor "${this.hfName(p.name)}" (expected by this config.json)`);
      const meta = tensors.meta(name);
      const expected = hfShape(p.variable.shape as number[], p.transposed);
      if (!sameShape(meta.shape, expected)) {
        throw new PolyglotError(`${where}: tensor "${name}": expected shape ${JSON.stringify(expected)}, found ${JSON.stringify(meta.shape)}`);
      }
      if (!FLOAT_DTYPES.includes(meta.dtype)) throw new PolyglotError(`${where}: tensor "${name}": expected a floating-point tensor, found dtype ${meta.dtype}`);
    }
  },
};

/** Overwrites every parameter of an existing model from `source` (by HF name; tied aliases accepted). */
export function loadNllbMoeWeights(model: { namedParameters(): NamedParameter[]; config: NllbMoeConfig }, source: TensorSource, where = 'checkpoint'): void {
  loadWeightsInto(model.namedParameters(), nllbMoeWeights, source, model.config, where);
}
