/**
 * One file of a repo at a revision, from the cache or downloaded into it: the decisions of
 * huggingface_hub's `_hf_hub_download_to_cache_dir`.
 * - a commit hash whose snapshot has the file: no request at all;
 * - offline (HF_HUB_OFFLINE / localFilesOnly): only the cache (refs/<revision> -> snapshot);
 * - else HEAD for the current commit and ETag; a file missing on the hub is recorded as
 *   `.no_exist/<commit>/<file>`; when the hub cannot be asked (no connection, 5xx, a refused or
 *   missing token) a cached copy of the revision is used, and only if there is none the error is raised;
 * - the blob is downloaded under the etag's lock unless another process already did, then
 *   `snapshots/<commit>/<file>` is linked to it and refs/<revision> records the commit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMIT_HASH, RepoCache } from './cache-layout.js';
import { downloadBlob, type ProgressCallback } from './download-blob.js';
import { acquireLock } from './file-lock.js';
import { fetchFileMetadata, type FileMetadata } from './file-metadata.js';
import { HubError } from './hub-error.js';
import type { HubSettings } from './settings.js';

export type HubFile = { kind: 'file'; path: string; commit: string } | { kind: 'absent'; commit?: string };

export interface HubFileOptions {
  onProgress?: ProgressCallback;
  /** Told when another process holds the download lock of this file. */
  onLockWait?: (file: string) => void;
}

function offlineMiss(settings: HubSettings, repoId: string, revision: string, file: string): HubError {
  return new HubError(
    'offline',
    `${repoId}@${revision}: ${file} is not in the hub cache (${settings.cacheDir}) and offline mode (HF_HUB_OFFLINE=1 or localFilesOnly) forbids downloading it: run once online to download it`,
  );
}

export async function hubFile(settings: HubSettings, repoId: string, revision: string, file: string, options: HubFileOptions = {}): Promise<HubFile> {
  const cache = new RepoCache(settings.cacheDir, repoId);
  const cached = cache.lookup(revision, file);
  if (COMMIT_HASH.test(revision) && cached.kind !== 'unknown') return cached;
  if (settings.offline) {
    if (cached.kind !== 'unknown') return cached;
    throw offlineMiss(settings, repoId, revision, file);
  }
  let meta: FileMetadata;
  try {
    meta = await fetchFileMetadata(settings, { repoId, revision, file });
  } catch (e) {
    if (!(e instanceof HubError)) throw e;
    if (e.kind === 'entry-not-found') {
      if (e.commit !== undefined && COMMIT_HASH.test(e.commit)) {
        cache.markAbsent(e.commit, file);
        cache.writeRef(revision, e.commit);
      }
      return { kind: 'absent', commit: e.commit };
    }
    // The hub could not tell us (no connection, down, token refused): a cached copy will do.
    if (e.kind !== 'revision-not-found' && cached.kind !== 'unknown') return cached;
    throw e;
  }
  const pointer = cache.pointerPath(meta.commit, file);
  cache.writeRef(revision, meta.commit);
  if (fs.existsSync(pointer)) return { kind: 'file', path: pointer, commit: meta.commit };
  const blob = cache.blobPath(meta.etag);
  if (!fs.existsSync(blob)) {
    fs.mkdirSync(path.dirname(blob), { recursive: true });
    const lock = await acquireLock(cache.lockPath(meta.etag), { onWait: () => options.onLockWait?.(file) });
    try {
      // Another process may have finished it while we waited for the lock.
      if (!fs.existsSync(blob)) await downloadBlob(settings, meta, { repoId, file, blobPath: blob, onProgress: options.onProgress });
    } finally {
      lock.release();
    }
  }
  return { kind: 'file', path: cache.linkPointer(meta.commit, file, meta.etag), commit: meta.commit };
}
