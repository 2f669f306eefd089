/**
 * XGLM weights by HF state-dict name (the `WeightNaming` of the "xglm" format). lm_head is tied:
 * safetensors files omit lm_head.weight; pytorch_model.bin keeps it sharing storage with the
 * embedding, so it is accepted when equal to model.embed_tokens.weight. With tie_word_embeddings
 * false, lm_head.weight is a parameter of its own (required). Checkpoints of a bare XGLMModel
 * (names without "model.") load too (HF base_model_prefix). Reading (and transposing Linear
 * weights once) is models/pretrained.ts's.
 */
import { PolyglotError } from '../../core/errors.js';
import type { NamedParameter } from '../../core/trainable.js';
import type { TensorSource } from '../../convert/checkpoint.js';
import type { WeightNaming } from '../checkpoint-format.js';
import { FLOAT_DTYPES, hfShape, loadWeightsInto, shapeStr } from '../pretrained.js';
import type { XGLMConfig } from './config.js';

/** Position buffers older conversions saved (non-persistent in HF; recomputed here), not parameters. */
const IGNORED = [/^(model\.)?embed_positions\.(weights?|_float_tensor)$/];

function listNames(names: string[]): string {
  return `${names.slice(0, 5).map((n) => `"${n}"`).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''}`;
}

/** HF parameter name -> the checkpoint's name (bare XGLMModel checkpoints lack "model."). */
export function checkpointNamer(tensors: TensorSource): (hfName: string) => string {
  const bare = !tensors.has('model.embed_tokens.weight') && tensors.has('embed_tokens.weight');
  return (hf) => (bare ? hf.replace(/^model\./, '') : hf);
}

/**
 * Checks names and shapes against the model's parameters (one error naming the first
 * problems: missing, unexpected or mis-shaped tensors; an lm_head that is not the embedding).
 */
export function checkXGLMCheckpoint(params: readonly NamedParameter[], tensors: TensorSource, source: string): void {
  const ckName = checkpointNamer(tensors);
  const names = new Set(tensors.names());
  const expected = new Set(params.map((p) => ckName(p.name)));
  const missing = params.map((p) => ckName(p.name)).filter((n) => !names.has(n));
  if (missing.length > 0) {
    throw new PolyglotError(`${source}: missing tensor${missing.length > 1 ? 's' : ''} ${listNames(missing)} (expected by the XGLM config)`);
  }
  const unexpected = [...names].filter((n) => !expected.has(n) && n !== 'lm_head.weight' && !IGNORED.some((r) => r.test(n)));
  if (unexpected.length > 0) {
    throw new PolyglotError(`${source}: unexpected tensor${unexpected.length > 1 ? 's' : ''} ${listNames(unexpected)} (not part of XGLMForCausalLM with this config)`);
  }
  for (const p of params) {
    const name = ckName(p.name);
    const want = hfShape(p.variable.shape as number[], p.transposed);
    const found = tensors.meta(name).shape;
    if (shapeStr(found) !== shapeStr(want)) {
      throw new PolyglotError(`${source}: tensor "${name}": expected shape ${shapeStr(want)}, found ${shapeStr(found)}`);
    }
    const dtype = tensors.meta(name).dtype;
    if (!FLOAT_DTYPES.includes(dtype)) throw new PolyglotError(`${source}: tensor "${name}": expected a floating-point dtype, found ${dtype}`);
  }
  // A tied lm_head (not a parameter of its own) may still be stored: it must equal the embedding.
  if (names.has('lm_head.weight') && !expected.has('lm_head.weight')) {
    const embName = ckName('model.embed_tokens.weight');
    const head = tensors.meta('lm_head.weight');
    const emb = tensors.meta(embName);
    if (shapeStr(head.shape) !== shapeStr(emb.shape)) {
      throw new PolyglotError(`${source}: tensor "lm_head.weight": expected shape ${shapeStr(emb.shape)} (tied to ${embName}), found ${shapeStr(head.shape)}`);
    }
    const a = tensors.read('lm_head.weight').data;
    const b = tensors.read(embName).data;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        throw new PolyglotError(`${source}: tensor "lm_head.weight" differs from "${embName}" at element ${i} (XGLM ties them; untied heads are not supported)`);
      }
    }
  }
}

export const xglmWeights: WeightNaming<XGLMConfig> = {
  checkpointName: (name, tensors) => checkpointNamer(tensors)(name),
  hfName: (name) => name,
  check: (params, tensors, source) => checkXGLMCheckpoint(params, tensors, source),
};

/** Overwrites an existing model's parameters with the checkpoint's (validated first). */
export function loadXGLMWeights(lm: { namedParameters(): NamedParameter[]; config: XGLMConfig }, tensors: TensorSource, source: string): void {
  loadWeightsInto(lm.namedParameters(), xglmWeights, tensors, lm.config, source);
}
