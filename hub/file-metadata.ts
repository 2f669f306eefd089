/**
 * HEAD {endpoint}/{repo}/resolve/{revision}/{file}, read as huggingface_hub's
 * `get_hf_file_metadata` reads it: the commit from X-Repo-Commit; the ETag from X-Linked-Etag
 * (LFS files: the sha256 of the content) else ETag, quotes and a weak `W/` prefix removed; the size
 * from X-Linked-Size, else Content-Length unless the answer is a redirect; the download location
 * from Location (the hub's 302 to its CDN) else the resolve URL itself.
 */
import { checkCommit, checkEtag } from './cache-layout.js';
import { errorForStatus, HubError } from './hub-error.js';
import { requestFollowing, resolveUrl, timeoutMs, unreachable } from './http.js';
import type { HubSettings } from './settings.js';

export interface FileMetadata {
  commit: string;
  etag: string;
  size: number;
  /** Where to GET the content (may be another host: no token is sent there). */
  location: string;
  /** true when the ETag is a sha256 of the content (an LFS file), so the download can be checked against it. */
  sha256: boolean;
}

/** huggingface_hub `_normalize_etag`: `W/"abc"` and `"abc"` -> `abc`. */
export function normalizeEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  return etag.replace(/^W\//, '').replace(/^"+|"+$/g, '');
}

export interface MetadataWhere {
  repoId: string;
  revision: string;
  file: string;
}

/**
 * The file's metadata, or a HubError: gated / repo / revision / entry not found (from the
 * status and X-Error-Code), `unreachable` for no answer or a 5xx, `bad-response` when headers are
 * missing. An EntryNotFound error carries the commit (`commit`) so the caller can record
 * `.no_exist/<commit>/<file>` like huggingface_hub.
 */
export async function fetchFileMetadata(settings: HubSettings, where: MetadataWhere): Promise<FileMetadata> {
  const url = resolveUrl(settings, where.repoId, where.revision, where.file);
  const what = `${where.repoId}@${where.revision}: ${where.file}`;
  let response: Response;
  try {
    ({ response } = await requestFollowing(url, settings, { method: 'HEAD', relativeOnly: true, signal: AbortSignal.timeout(timeoutMs('HF_HUB_ETAG_TIMEOUT')) }));
  } catch (e) {
    if (e instanceof HubError) throw e;
    throw unreachable(settings, what, e);
  }
  const h = response.headers;
  if (response.status >= 400) {
    const error = errorForStatus(response.status, h.get('x-error-code'), settings, where);
    if (error === undefined) throw new HubError('unreachable', `${what}: ${settings.endpoint} answered HTTP ${response.status}; try again later, or set HF_HUB_OFFLINE=1 to use only the cache`, response.status);
    error.commit = h.get('x-repo-commit') ?? undefined;
    throw error;
  }
  const commit = h.get('x-repo-commit');
  const linkedEtag = normalizeEtag(h.get('x-linked-etag'));
  const etag = linkedEtag ?? normalizeEtag(h.get('etag'));
  const isRedirect = response.status >= 300 && response.status <= 399;
  const sizeText = h.get('x-linked-size') ?? (isRedirect ? null : h.get('content-length'));
  // huggingface_hub raises FileMetadataError for each of these: without them the cache cannot be laid out.
  if (commit === null) throw new HubError('bad-response', `${what}: ${settings.endpoint} sent no X-Repo-Commit header (is HF_ENDPOINT a Hugging Face hub? check proxies and firewalls)`);
  if (etag === undefined || etag === '') throw new HubError('bad-response', `${what}: ${settings.endpoint} sent no ETag, so the download cannot be checked or cached`);
  if (sizeText === null || !/^\d+$/.test(sizeText)) throw new HubError('bad-response', `${what}: ${settings.endpoint} sent no file size (X-Linked-Size or Content-Length)`);
  checkCommit(commit, `${what}: X-Repo-Commit`);
  checkEtag(etag, `${what}: ETag`);
  const location = isRedirect ? new URL(h.get('location') as string, url).toString() : url;
  return { commit, etag, size: Number(sizeText), location, sha256: linkedEtag !== undefined && /^[0-9a-f]{64}$/.test(linkedEtag) };
}
