/**
 * `polyglot merge-adapter`: a base model plus a peft LoRA adapter written as one plain HF model
 * directory, W' = W + scaling * B A folded into each target Linear (peft merge_and_unload).
 * `withMergedModelDir` does the same into a temporary folder for commands that read a model
 * directory (export --adapter, verify --adapter).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel } from '../load-model.js';
import { exportHfModel } from '../export-hf.js';
import { loadPeftAdapter } from './peft-adapter.js';
import type { HfWriteResult } from '../../convert/hf-writer.js';

export function mergeAdapterToDir(modelDir: string, adapterDir: string, outDir: string, overwrite = false): HfWriteResult & { merged: number } {
  const loaded = loadModel(modelDir);
  try {
    const lora = loadPeftAdapter(loaded.model, adapterDir, { hfName: loaded.format.weights.hfName });
    const merged = lora.adapters.size;
    lora.merge();
    return { ...exportHfModel(loaded.model, outDir, { sourceDir: loaded.ck.dir, config: loaded.ck.config, overwrite, hfName: loaded.format.weights.hfName }), merged };
  } finally {
    loaded.model.dispose();
  }
}

/**
 * Runs `fn` on a temporary merged copy of `modelDir` + `adapterDir`; `links` names entries of
 * `modelDir` (e.g. a fixture's reference/ folder) made visible in the copy. The copy is removed after.
 */
export async function withMergedModelDir<R>(modelDir: string, adapterDir: string, fn: (dir: string) => Promise<R>, links: string[] = []): Promise<R> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-merged-'));
  try {
    const dir = path.join(tmp, path.basename(path.resolve(modelDir)));
    mergeAdapterToDir(modelDir, adapterDir, dir);
    for (const l of links) if (fs.existsSync(path.join(modelDir, l))) fs.symlinkSync(path.resolve(modelDir, l), path.join(dir, l));
    return await fn(dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
