/**
 * Loads an HF XGLM checkpoint into XGLMForCausalLM by state-dict name. Linear weights are
 * transposed [out, in] -> [in, out] once here. lm_head is tied: safetensors files omit
 * lm_head.weight; pytorch_model.bin keeps it sharing storage with the embedding, so it is
 * accepted when equal to model.embed_tokens.weight. Checkpoints of a bare XGLMModel (names
 * without "model.") load too (HF base_model_prefix).
 */
import { tf } from '../../core/tf.js';
import { PolyglotError } from '../../core/errors.js';
import type { TensorSource } from '../../convert/checkpoint.js';
import type { HfParameter } from '../../layers/base.js';
import type { XGLMForCausalLM } from './model.js';

/** Position buffers older conversions saved (non-persistent in HF; recomputed here), not parameters. */
const IGNORED = [/^(model\.)?embed_positions\.(weights?|_float_tensor)$/];

function shapeStr(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

export function loadXGLMWeights(lm: XGLMForCausalLM, tensors: TensorSource, source: string): void {
  const names = new Set(tensors.names());
  const bare = !names.has('model.embed_tokens.weight') && names.has('embed_tokens.weight');
  const ckName = (hf: string) => (bare ? hf.replace(/^model\./, '') : hf);
  const params: HfParameter[] = lm.namedParameters();
  const expected = new Set(params.map((p) => ckName(p.name)));
  const missing = params.filter((p) => !names.has(ckName(p.name))).map((p) => ckName(p.name));
  if (missing.length > 0) {
    throw new PolyglotError(`${source}: missing tensor${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).map((n) => `"${n}"`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''} (expected by the XGLM config)`);
  }
  const unexpected = [...names].filter((n) => !expected.has(n) && n !== 'lm_head.weight' && !IGNORED.some((r) => r.test(n)));
  if (unexpected.length > 0) {
    throw new PolyglotError(`${source}: unexpected tensor${unexpected.length > 1 ? 's' : ''} ${unexpected.slice(0, 5).map((n) => `"${n}"`).join(', ')}${unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : ''} (not part of XGLMForCausalLM with this config)`);
  }
  // Check every shape before reading any data.
  for (const p of params) {
    const name = ckName(p.name);
    const ours = p.variable.shape as number[];
    const want = p.transposed ? [...ours].reverse() : ours;
    const meta = tensors.meta(name);
    if (shapeStr(meta.shape) !== shapeStr(want)) {
      throw new PolyglotError(`${source}: tensor "${name}": expected shape ${shapeStr(want)}, found ${shapeStr(meta.shape)}`);
    }
  }
  if (names.has('lm_head.weight')) {
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
  for (const p of params) {
    const name = ckName(p.name);
    const host = tensors.read(name);
    if (!(host.data instanceof Float32Array)) {
      throw new PolyglotError(`${source}: tensor "${name}": expected a floating-point dtype, found ${host.dtype}`);
    }
    const value = tf.tidy(() => {
      const t = tf.tensor(host.data as Float32Array, host.shape, 'float32');
      return p.transposed ? tf.transpose(t) : t;
    });
    p.variable.write(value);
    value.dispose();
  }
}
