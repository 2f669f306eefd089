/**
 * The files a model needs, fetched into one snapshot of the hub cache: config.json (required),
 * generation_config.json and the tokenizer files when the repo has them, and the weights in
 * transformers' order of preference (safetensors before pytorch_model.bin; a single file before
 * its sharded index). The revision is resolved to a commit by the first file, and every other file
 * is asked for at that commit, so a branch moving meanwhile cannot mix two snapshots (as
 * huggingface_hub's snapshot_download pins the commit).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { RepoCache } from './cache-layout.js';
import { HubError } from './hub-error.js';
import { hubFile, type HubFileOptions } from './hub-file.js';
import type { HubSettings } from './settings.js';

/** Read by the loaders when present: generation defaults and the tokenizers (XGLM, NLLB, M2M-100). */
export const OPTIONAL_MODEL_FILES = [
  'generation_config.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'sentencepiece.bpe.model',
  'vocab.json',
] as const;

/** Weight layouts in transformers' download order. */
export const WEIGHT_DOWNLOAD_ORDER = ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json'] as const;

/** The shard files an index names (validated: plain file names inside the same folder). */
export function shardsOfIndex(indexPath: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new PolyglotError(`${indexPath}: not valid JSON (${(e as Error).message})`);
  }
  const map = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new PolyglotError(`${indexPath}: expected a "weight_map" object of tensor name -> shard file`);
  const shards = new Set<string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || !/^[\w.-]+$/.test(shard) || shard === '.' || shard === '..') {
      throw new PolyglotError(`${indexPath}: weight_map["${name}"] must be a shard file name, found ${JSON.stringify(shard)}`);
    }
    shards.add(shard);
  }
  return [...shards];
}

async function required(settings: HubSettings, repoId: string, revision: string, file: string, options: HubFileOptions): Promise<{ path: string; commit: string }> {
  const got = await hubFile(settings, repoId, revision, file, options);
  if (got.kind === 'file') return got;
  throw new HubError('entry-not-found', `${repoId}@${revision}: the repository has no ${file}${file === 'config.json' ? ' (not a transformers model?)' : ''}: check the model id and --revision`);
}

async function optional(settings: HubSettings, repoId: string, commit: string, file: string, options: HubFileOptions): Promise<string | undefined> {
  try {
    const got = await hubFile(settings, repoId, commit, file, options);
    return got.kind === 'file' ? got.path : undefined;
  } catch (e) {
    // Offline and never downloaded: transformers treats an optional file the same way (absent).
    if (e instanceof HubError && e.kind === 'offline') return undefined;
    throw e;
  }
}

/** Downloads (or finds in the cache) what the loaders need; returns the snapshot folder. */
export async function downloadModel(settings: HubSettings, repoId: string, revision: string, options: HubFileOptions = {}): Promise<string> {
  const config = await required(settings, repoId, revision, 'config.json', options);
  const commit = config.commit;
  for (const file of OPTIONAL_MODEL_FILES) await optional(settings, repoId, commit, file, options);
  let weights: string | undefined;
  for (const file of WEIGHT_DOWNLOAD_ORDER) {
    const got = await optional(settings, repoId, commit, file, options);
    if (got === undefined) continue;
    if (file.endsWith('.index.json')) {
      for (const shard of shardsOfIndex(got)) await required(settings, repoId, commit, shard, options);
    }
    weights = file;
    break;
  }
  if (weights === undefined) {
    const how = settings.offline ? 'in the hub cache (offline mode: run once online to download them)' : `on ${settings.endpoint}`;
    throw new HubError(settings.offline ? 'offline' : 'entry-not-found', `${repoId}@${revision}: no weights ${how} (expected one of ${WEIGHT_DOWNLOAD_ORDER.join(', ')})`);
  }
  return path.dirname(new RepoCache(settings.cacheDir, repoId).pointerPath(commit, 'config.json'));
}
