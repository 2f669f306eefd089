/**
 * Hub failures as one-line PolyglotErrors that say what to do, classified like huggingface_hub's
 * `hf_raise_for_status` (utils/_http.py): the X-Error-Code header names GatedRepo,
 * RepoNotFound, RevisionNotFound, EntryNotFound; a bare 401 on a resolve URL counts as
 * RepoNotFound (the hub answers 401 for missing, private and gated repos alike without a token).
 */
import { PolyglotError } from '../core/errors.js';
import type { HubSettings } from './settings.js';

export type HubErrorKind =
  | 'gated' // GatedRepoError
  | 'repo-not-found' // RepositoryNotFoundError
  | 'revision-not-found' // RevisionNotFoundError
  | 'entry-not-found' // EntryNotFoundError
  | 'forbidden' // 403 without a more specific code
  | 'offline' // HF_HUB_OFFLINE / localFilesOnly and the file is not cached
  | 'unreachable' // network error or 5xx, and the file is not cached
  | 'locked' // another process holds the download lock too long
  | 'corrupt' // the downloaded bytes do not match the size or sha256 the hub announced
  | 'bad-response'; // the server said something the protocol does not allow

export class HubError extends PolyglotError {
  /** EntryNotFound: the commit the hub looked in (X-Repo-Commit), for the `.no_exist` marker. */
  commit?: string;

  constructor(
    readonly kind: HubErrorKind,
    message: string,
    /** The HTTP status, when the error came from one. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** What the user can do about a refused token or a missing one. */
function tokenAdvice(settings: HubSettings): string {
  return settings.token
    ? `the token from ${settings.tokenSource} was refused: check that it is valid and has access`
    : `set HF_TOKEN or save a token in ${settings.tokenPath}`;
}

/** The error for a failed resolve request (status >= 400), or undefined for statuses that mean "try the cache" (5xx, 429, 408). */
export function errorForStatus(
  status: number,
  errorCode: string | null,
  settings: HubSettings,
  where: { repoId: string; revision: string; file: string },
): HubError | undefined {
  const { repoId, revision, file } = where;
  if (errorCode === 'GatedRepo') {
    return new HubError('gated', `${repoId}: gated repository (HTTP ${status}): accept its conditions on ${settings.endpoint}/${repoId}, then ${tokenAdvice(settings)}`, status);
  }
  if (errorCode === 'RevisionNotFound') {
    return new HubError('revision-not-found', `${repoId}: revision "${revision}" not found on ${settings.endpoint} (HTTP ${status}): pass --revision with an existing branch, tag or commit`, status);
  }
  if (errorCode === 'EntryNotFound') {
    return new HubError('entry-not-found', `${repoId}@${revision}: ${file} not found on ${settings.endpoint} (HTTP ${status}): the repository has no such file at this revision`, status);
  }
  if (errorCode === 'RepoNotFound' || status === 401 || status === 404) {
    return new HubError('repo-not-found', `${repoId}: repository not found on ${settings.endpoint} (HTTP ${status}): check the id; if it is private or gated, ${tokenAdvice(settings)}`, status);
  }
  if (status === 403) {
    return new HubError('forbidden', `${repoId}: access refused by ${settings.endpoint} (HTTP 403): ${tokenAdvice(settings)}`, status);
  }
  if (status >= 500 || status === 429 || status === 408) return undefined;
  return new HubError('bad-response', `${repoId}@${revision}: ${file}: ${settings.endpoint} answered HTTP ${status}`, status);
}
