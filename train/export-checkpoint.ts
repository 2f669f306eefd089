/**
 * A training checkpoint (checkpoints/) as a Hugging Face model directory: the base model
 * directory gives config and tokenizer, the checkpoint the weights (`polyglot export-hf`,
 * e.g. after an interrupted run).
 */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { loadCheckpoint, resolveCheckpoint } from '../checkpoints/training-checkpoint.js';
import { loadModel } from './load-model.js';
import { exportHfModel } from './export-hf.js';
import { distinctParameters } from '../core/trainable.js';
import type { HfWriteResult } from '../convert/hf-writer.js';

export function exportCheckpoint(baseModelDir: string, checkpoint: string, outDir: string, overwrite = false): { result: HfWriteResult; step: number } {
  const dir = resolveCheckpoint(checkpoint);
  const ck = loadCheckpoint(dir);
  const loaded = loadModel(baseModelDir);
  try {
    const params = new Map(distinctParameters(loaded.model).map((p) => [p.name, p]));
    for (const w of ck.weights) {
      const p = params.get(w.name);
      if (!p) throw new PolyglotError(`${dir}: parameter "${w.name}" is not in the model of ${baseModelDir}`);
      if (p.variable.shape.join() !== w.shape.join()) throw new PolyglotError(`${dir}: parameter "${w.name}": checkpoint shape [${w.shape}], model shape [${p.variable.shape}]`);
      tf.tidy(() => p.variable.assign(tf.tensor(w.data, w.shape, 'float32')));
      params.delete(w.name);
    }
    if (params.size) throw new PolyglotError(`${dir}: no weights for ${[...params.keys()].slice(0, 3).join(', ')} (checkpoint of another model?)`);
    const result = exportHfModel(loaded.model, outDir, { sourceDir: loaded.ck.dir, config: loaded.ck.config, overwrite, hfName: loaded.format.weights.hfName });
    return { result, step: ck.step };
  } finally {
    loaded.model.dispose();
  }
}
