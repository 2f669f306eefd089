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
import { hubCacheDir } from '../hub/settings.js';
import { openSafetensorsDir, readJsonFile, type HfCheckpoint } from './checkpoint.js';
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
    const rev = fs.readFileSync(refMain, 'utf8').trim();
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
  const index = path.join(dir, 'pytorch_model.bin.index.json');
  const single = path.join(dir, 'pytorch_model.bin');
  if (fs.existsSync(index)) {
    const idx = readJsonFile(index) as { weight_map?: unknown };
    if (typeof idx.weight_map !== 'object' || idx.weight_map === null || Array.isArray(idx.weight_map)) {
      throw new PolyglotError(`${index}: expected a "weight_map" object of tensor name -> shard file`);
    }
    const weightMap = idx.weight_map as Record<string, unknown>;
    for (const [k, v] of Object.entries(weightMap)) {
      if (typeof v !== 'string' || v.includes('/') || v.includes('\\')) throw new PolyglotError(`${index}: weight_map["${k}"] must be a shard file name, found ${JSON.stringify(v)}`);
    }
    const shards = [...new Set(Object.values(weightMap) as string[])];
    const files = shards.map((s) => TorchBinFile.open(path.join(dir, s)));
    return { dir, config, tensors: new TorchBinSource(files, weightMap as Record<string, string>, index), files: files.map((f) => f.path) };
  }
  if (fs.existsSync(single)) {
    return { dir, config, tensors: new TorchBinSource([TorchBinFile.open(single)]), files: [single] };
  }
  return undefined;
}

/** Opens a model directory or cached model id in any supported layout. */
export function openCheckpoint(dirOrModelId: string): HfCheckpoint {
  const dir = resolveModelDir(dirOrModelId);
  const configPath = path.join(dir, 'config.json');
  if (!fs.existsSync(configPath)) throw new PolyglotError(`${dir}: no config.json (expected a Hugging Face model directory)`);
  const config = readJsonFile(configPath);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new PolyglotError(`${configPath}: expected a JSON object`);
  const st = openSafetensorsDir(dir);
  if (st) return { ...st, config: config as Record<string, unknown> };
  const bin = openTorchBinDir(dir, config as Record<string, unknown>);
  if (bin) return bin;
  throw new PolyglotError(`${dir}: no weights found (expected one of ${WEIGHT_LAYOUTS.join(', ')})`);
}
