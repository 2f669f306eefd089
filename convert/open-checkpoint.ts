/**
 * `openCheckpoint(dirOrModelId)`: a model directory in any HF weight layout, or a model id
 * (`ORG/NAME`) already downloaded into the Hugging Face hub cache. Layout precedence is
 * HF's `from_pretrained`: safetensors (sharded index, then single file) before
 * pytorch_model.bin (sharded index, then single file).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { REPO_ID } from '../hub/cache-layout.js';
import { resolveModel, type ResolveModelOptions } from '../hub/resolve-model.js';
import { hubCacheDir } from '../hub/settings.js';
import { checkWeightMap, openSafetensorsDir, readJsonFile, type HfCheckpoint } from './checkpoint.js';
import { findModelFile, modelFile, readRegularFile } from './model-file.js';
import { TorchBinFile, TorchBinSource } from './torch-bin.js';

export { hubCacheDir };

/**
 * The snapshot folder of a cached model id: `models--ORG--NAME/snapshots/<rev>` where <rev>
 * is the commit in refs/main, or the only snapshot when there is no refs/main.
 */
export function resolveHubSnapshot(modelId: string, cacheDir = hubCacheDir()): string {
  const repo = path.join(cacheDir, `models--${modelId.replace('/', '--')}`);
  const snapshots = path.join(repo, 'snapshots');
  if (!fs.existsSync(snapshots)) {
    throw new PolyglotError(`${modelId}: not a directory, and not in the Hugging Face hub cache (looked for ${snapshots}; set HF_HUB_CACHE or HF_HOME, or download it with \`huggingface-cli download ${modelId}\`)`);
  }
  const refMain = path.join(repo, 'refs', 'main');
  if (fs.existsSync(refMain)) {
    const rev = readRegularFile(refMain, 1024, 'ref').toString('utf8').trim();
    if (!/^[\w.-]+$/.test(rev)) throw new PolyglotError(`${refMain}: expected a commit hash, found ${JSON.stringify(rev.slice(0, 60))}`);
    const dir = path.join(snapshots, rev);
    if (!fs.existsSync(dir)) throw new PolyglotError(`${refMain}: points at revision ${rev}, but ${dir} does not exist (incomplete download?)`);
    return dir;
  }
  const revs = fs.readdirSync(snapshots).filter((r) => fs.statSync(path.join(snapshots, r)).isDirectory());
  if (revs.length === 1) return path.join(snapshots, revs[0]);
  if (revs.length === 0) throw new PolyglotError(`${snapshots}: no snapshot of ${modelId} is downloaded`);
  throw new PolyglotError(`${snapshots}: ${revs.length} snapshots (${revs.join(', ')}) and no refs/main to choose one; pass the snapshot directory itself`);
}

/** Resolves a directory or cached model id to a model directory (without opening it). */
export function resolveModelDir(dirOrModelId: string): string {
  if (fs.existsSync(dirOrModelId)) {
    if (!fs.statSync(dirOrModelId).isDirectory()) throw new PolyglotError(`${dirOrModelId}: expected a model directory, found a file`);
    return dirOrModelId;
  }
  if (REPO_ID.test(dirOrModelId)) return resolveHubSnapshot(dirOrModelId);
  throw new PolyglotError(`${dirOrModelId}: no such directory (and not an ORG/NAME model id)`);
}

/** Weight files of a directory by layout, in HF's order of preference. */
export const WEIGHT_LAYOUTS = ['model.safetensors.index.json', 'model.safetensors', 'pytorch_model.bin.index.json', 'pytorch_model.bin'] as const;

/** Opens a pytorch_model.bin(.index.json) layout, or returns undefined if the directory has neither. */
export function openTorchBinDir(dir: string, config: Record<string, unknown>): HfCheckpoint | undefined {
  const index = findModelFile(dir, 'pytorch_model.bin.index.json');
  const single = findModelFile(dir, 'pytorch_model.bin');
  if (index) {
    const weightMap = checkWeightMap((readJsonFile(index) as { weight_map?: unknown } | null)?.weight_map, index);
    const shards = [...new Set(Object.values(weightMap))];
    const files = shards.map((s) => TorchBinFile.open(modelFile(dir, s, `shard named by ${index}`)));
    return { dir, config, tensors: new TorchBinSource(files, weightMap, index), files: files.map((f) => f.path) };
  }
  if (single) {
    return { dir, config, tensors: new TorchBinSource([TorchBinFile.open(single)]), files: [single] };
  }
  return undefined;
}

/** Opens a model directory or cached model id in any supported layout. */
export function openCheckpoint(dirOrModelId: string): HfCheckpoint {
  const dir = resolveModelDir(dirOrModelId);
  const configPath = findModelFile(dir, 'config.json');
  if (!configPath) throw new PolyglotError(`${dir}: no config.json (expected a Hugging Face model directory)${whatItIs(dir)}`);
  const config = readJsonFile(configPath);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new PolyglotError(`${configPath}: expected a JSON object`);
  const st = openSafetensorsDir(dir);
  if (st) return { ...st, config: config as Record<string, unknown> };
  const bin = openTorchBinDir(dir, config as Record<string, unknown>);
  if (bin) return bin;
  throw new PolyglotError(`${dir}: no weights found (expected one of ${WEIGHT_LAYOUTS.join(', ')})${whatItIs(dir)}`);
}

/** For a folder given as a model that is something else polyglot writes: what it is and what to run. */
function whatItIs(dir: string): string {
  const has = (...p: string[]) => fs.existsSync(path.join(dir, ...p));
  if (has('trainer_state.json')) return `; it is a training checkpoint: \`polyglot export-hf --model <model trained from> --checkpoint ${dir} --out <folder>\` writes its model`;
  if (has('checkpoints') || has('metrics.jsonl')) return `; it is a training output folder: its final model is ${path.join(dir, 'model')}, or \`polyglot export-hf --checkpoint ${dir} ...\` for its newest checkpoint`;
  const graphs = ['decoder_model', 'encoder_model'].filter((g) => has(g, 'model.json'));
  if (graphs.length) return '; it is a tfjs graph-model export (`polyglot export`): load it with tf.loadGraphModel, and give polyglot the Hugging Face folder it was exported from';
  return '';
}

/** Where a `fromPretrained` id comes from: revision, cache, offline, token, progress (hub/resolve-model.ts). */
export type HubOptions = ResolveModelOptions;

/**
 * THE resolution of a `fromPretrained` argument: a model directory, or an `ORG/NAME` id found in
 * the hub cache (a `revision` other than "main" names a snapshot folder or a refs/ file). Every
 * loader goes through here, so downloading can be added in this one place.
 */
export async function resolvePretrained(idOrDir: string, options: HubOptions = {}): Promise<string> {
  return resolveModel(idOrDir, options);
}

/** `openCheckpoint` after `resolvePretrained`. */
export async function openPretrained(idOrDir: string, options: HubOptions = {}): Promise<HfCheckpoint> {
  return openCheckpoint(await resolvePretrained(idOrDir, options));
}
