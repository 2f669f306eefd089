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
import { hubFile, type HubFile, type HubFileOptions } from './hub-file.js';
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

/**
 * Fetches files of one model. After the hub proved unreachable once, the remaining files come
 * from the cache only (one timeout, not one per file); a file the cache lacks then fails with
 * the original network error, which says what happened.
 */
class ModelFetch {
  private unreachable: HubError | undefined;

  constructor(
    private settings: HubSettings,
    readonly repoId: string,
    private readonly options: HubFileOptions,
  ) {}

  get offline(): boolean {
    return this.settings.offline;
  }

  /** The network failure that switched this fetch to the cache, if one did. */
  get networkError(): HubError | undefined {
    return this.unreachable;
  }

  private async one(revision: string, file: string): Promise<HubFile> {
    try {
      return await hubFile(this.settings, this.repoId, revision, file, this.options);
    } catch (e) {
      if (!(e instanceof HubError)) throw e;
      if (e.kind === 'offline' && this.unreachable) throw this.unreachable;
      if (e.kind !== 'unreachable' || this.settings.offline) throw e;
      this.unreachable = e;
      this.settings = { ...this.settings, offline: true };
      return this.one(revision, file);
    }
  }

  async required(revision: string, file: string): Promise<{ path: string; commit: string }> {
    const got = await this.one(revision, file);
    if (got.kind === 'file') return got;
    throw new HubError('entry-not-found', `${this.repoId}@${revision}: the repository has no ${file}${file === 'config.json' ? ' (not a transformers model?)' : ''}: check the model id and --revision`);
  }

  /** A file the loaders read when present: absent on the hub, or offline and never downloaded (as transformers treats it). */
  async optional(commit: string, file: string): Promise<string | undefined> {
    try {
      const got = await this.one(commit, file);
      return got.kind === 'file' ? got.path : undefined;
    } catch (e) {
      if (e instanceof HubError && (e.kind === 'offline' || e.kind === 'unreachable')) return undefined;
      throw e;
    }
  }
}

/** Downloads (or finds in the cache) what the loaders need; returns the snapshot folder. */
export async function downloadModel(settings: HubSettings, repoId: string, revision: string, options: HubFileOptions = {}): Promise<string> {
  const files = new ModelFetch(settings, repoId, options);
  const { commit } = await files.required(revision, 'config.json');
  for (const file of OPTIONAL_MODEL_FILES) await files.optional(commit, file);
  let weights: string | undefined;
  for (const file of WEIGHT_DOWNLOAD_ORDER) {
    const got = await files.optional(commit, file);
    if (got === undefined) continue;
    if (file.endsWith('.index.json')) {
      for (const shard of shardsOfIndex(got)) await files.required(commit, shard);
    }
    weights = file;
    break;
  }
  if (weights === undefined) {
    if (files.networkError) throw files.networkError;
    const how = files.offline ? 'in the hub cache (offline mode: run once online to download them)' : `on ${settings.endpoint}`;
    throw new HubError(files.offline ? 'offline' : 'entry-not-found', `${repoId}@${revision}: no weights ${how} (expected one of ${WEIGHT_DOWNLOAD_ORDER.join(', ')})`);
  }
  return path.dirname(new RepoCache(settings.cacheDir, repoId).pointerPath(commit, 'config.json'));
}
