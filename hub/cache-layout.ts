/**
 * One repository's folder in the hub cache, laid out as huggingface_hub lays it out
 * (file_download.py `_hf_hub_download_to_cache_dir`, `try_to_load_from_cache`):
 *
 *   <cache>/models--ORG--NAME/blobs/<etag>                      file contents, named by ETag
 *   <cache>/models--ORG--NAME/snapshots/<commit>/<file>          relative symlink -> ../../blobs/<etag>
 *   <cache>/models--ORG--NAME/refs/<revision>                    the commit a branch/tag resolved to
 *   <cache>/models--ORG--NAME/.no_exist/<commit>/<file>          empty marker: the file is not in that commit
 *   <cache>/.locks/models--ORG--NAME/<etag>.lock                 held while a blob is downloaded
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';

/** A full commit hash (huggingface_hub REGEX_COMMIT_HASH). */
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** ORG/NAME as the hub spells repo ids. */
export const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

/** Blob names come from the server's ETag: accept only what a hub ETag looks like (hex oids, no path characters). */
const ETAG = /^[\w.-]{1,128}$/;

function checkRelative(what: string, value: string): void {
  const parts = value.split('/');
  if (value === '' || path.isAbsolute(value) || value.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new PolyglotError(`${what}: expected a relative name without "..", found ${JSON.stringify(value)}`);
  }
}

export function checkEtag(etag: string, source: string): void {
  if (!ETAG.test(etag)) throw new PolyglotError(`${source}: expected an ETag of letters, digits, "-", "_" or ".", found ${JSON.stringify(etag.slice(0, 80))}`);
}

export function checkCommit(commit: string, source: string): void {
  if (!COMMIT_HASH.test(commit)) throw new PolyglotError(`${source}: expected a 40-digit commit hash, found ${JSON.stringify(commit.slice(0, 80))}`);
}

/** What the cache knows about one file at one revision. */
export type CachedFile = { kind: 'file'; path: string; commit: string } | { kind: 'absent'; commit: string } | { kind: 'unknown' };

export class RepoCache {
  readonly folderName: string;
  readonly storage: string;

  constructor(
    readonly cacheDir: string,
    readonly repoId: string,
  ) {
    if (!REPO_ID.test(repoId)) throw new PolyglotError(`${repoId}: expected a model id ORG/NAME`);
    this.folderName = `models--${repoId.split('/').join('--')}`;
    this.storage = path.join(cacheDir, this.folderName);
  }

  blobPath(etag: string): string {
    checkEtag(etag, `${this.repoId}: ETag`);
    return path.join(this.storage, 'blobs', etag);
  }

  snapshotDir(commit: string): string {
    checkCommit(commit, `${this.repoId}: commit`);
    return path.join(this.storage, 'snapshots', commit);
  }

  pointerPath(commit: string, file: string): string {
    checkRelative(`${this.repoId}: file name`, file);
    return path.join(this.snapshotDir(commit), ...file.split('/'));
  }

  noExistPath(commit: string, file: string): string {
    checkRelative(`${this.repoId}: file name`, file);
    checkCommit(commit, `${this.repoId}: commit`);
    return path.join(this.storage, '.no_exist', commit, ...file.split('/'));
  }

  lockPath(etag: string): string {
    checkEtag(etag, `${this.repoId}: ETag`);
    return path.join(this.cacheDir, '.locks', this.folderName, `${etag}.lock`);
  }

  /** refs/<revision> (branch and tag names may hold "/", stored as sub-folders like huggingface_hub does). */
  private refPath(revision: string): string {
    checkRelative(`${this.repoId}: revision`, revision);
    return path.join(this.storage, 'refs', ...revision.split('/'));
  }

  /** The commit a revision stands for in the cache: itself if a commit hash, else refs/<revision> if recorded. */
  commitFor(revision: string): string | undefined {
    if (COMMIT_HASH.test(revision)) return revision;
    const ref = this.refPath(revision);
    let text: string;
    try {
      text = fs.readFileSync(ref, 'utf8').trim();
    } catch {
      return undefined;
    }
    checkCommit(text, ref);
    return text;
  }

  /** Records that `revision` resolved to `commit` (atomic: a reader never sees a half-written ref). */
  writeRef(revision: string, commit: string): void {
    if (revision === commit) return;
    checkCommit(commit, `${this.repoId}: commit`);
    const ref = this.refPath(revision);
    if (this.commitFor(revision) === commit) return;
    fs.mkdirSync(path.dirname(ref), { recursive: true });
    const tmp = `${ref}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(tmp, commit);
    fs.renameSync(tmp, ref);
  }

  markAbsent(commit: string, file: string): void {
    const marker = this.noExistPath(commit, file);
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    fs.closeSync(fs.openSync(marker, 'a'));
  }

  /** huggingface_hub `try_to_load_from_cache`: the cached file, a cached "not in this commit", or nothing known. */
  lookup(revision: string, file: string): CachedFile {
    const commit = this.commitFor(revision);
    if (commit === undefined) return { kind: 'unknown' };
    if (fs.existsSync(this.noExistPath(commit, file))) return { kind: 'absent', commit };
    const pointer = this.pointerPath(commit, file);
    return fs.existsSync(pointer) ? { kind: 'file', path: pointer, commit } : { kind: 'unknown' };
  }

  /**
   * snapshots/<commit>/<file> as a RELATIVE symlink to the blob (`../../blobs/<etag>` for a
   * top-level file), as huggingface_hub `_create_symlink` makes it, so the cache survives being moved.
   */
  linkPointer(commit: string, file: string, etag: string): string {
    const pointer = this.pointerPath(commit, file);
    const target = path.relative(path.dirname(pointer), this.blobPath(etag));
    fs.mkdirSync(path.dirname(pointer), { recursive: true });
    const tmp = `${pointer}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    fs.symlinkSync(target, tmp);
    fs.renameSync(tmp, pointer); // replaces an older link atomically
    return pointer;
  }
}
