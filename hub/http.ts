/**
 * HTTP plumbing for the hub's resolve protocol on Node's own fetch: request headers, the rule
 * that the token goes only to the endpoint's host (huggingface_hub drops `authorization` when a
 * redirect leaves the resolve URL's host, e.g. to a CDN), redirects followed by hand so that rule
 * holds on every hop, and timeouts.
 */
import { HubError } from './hub-error.js';
import type { HubSettings } from './settings.js';

const USER_AGENT = `tfjs-polyglot/0.1.0; node/${process.versions.node}`;
const MAX_REDIRECTS = 10;

/** huggingface_hub HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT (seconds, default 10). */
export function timeoutMs(variable: 'HF_HUB_ETAG_TIMEOUT' | 'HF_HUB_DOWNLOAD_TIMEOUT'): number {
  const v = Number(process.env[variable]);
  return Number.isFinite(v) && v > 0 ? v * 1000 : 10_000;
}

/** The resolve URL of a file: {endpoint}/{repo}/resolve/{revision}/{file} (huggingface_hub `hf_hub_url`). */
export function resolveUrl(settings: HubSettings, repoId: string, revision: string, file: string): string {
  return `${settings.endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** Headers for one request; `authorization` only when the URL is on the endpoint's host. */
export function headersFor(url: string, settings: HubSettings, extra: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity', ...extra };
  if (settings.token && new URL(url).host === new URL(settings.endpoint).host) headers.authorization = `Bearer ${settings.token}`;
  return headers;
}

/** A network failure (no HTTP answer) as the "unreachable" HubError. */
export function unreachable(settings: HubSettings, what: string, e: unknown): HubError {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const reason = err.name === 'TimeoutError' || err.name === 'AbortError' ? 'timed out' : (err.cause?.code ?? err.cause?.message ?? err.message ?? String(e));
  return new HubError('unreachable', `${what}: cannot reach ${settings.endpoint} (${reason}): check the connection and HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only the cache`);
}

export interface HopOptions {
  method: 'HEAD' | 'GET';
  extraHeaders?: Record<string, string>;
  signal?: AbortSignal;
  /** true: follow only relative redirects (a renamed repo), like huggingface_hub's HEAD (`_httpx_follow_relative_redirects`). */
  relativeOnly: boolean;
}

/**
 * Sends the request and follows redirects by hand (each hop gets its own headers, so the token
 * never leaves the endpoint's host). With relativeOnly, an absolute redirect (the hub's 302 to
 * its CDN for LFS files) is returned as is: its headers carry the file's metadata and its
 * Location is where to download.
 */
export async function requestFollowing(url: string, settings: HubSettings, opts: HopOptions): Promise<{ response: Response; url: string }> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const response = await fetch(current, {
      method: opts.method,
      headers: headersFor(current, settings, opts.extraHeaders),
      redirect: 'manual',
      signal: opts.signal,
    });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status > 399 || location === null) return { response, url: current };
    if (opts.relativeOnly && /^([a-z][a-z0-9+.-]*:|\/\/)/i.test(location)) return { response, url: current };
    const next = new URL(location, current).toString();
    await response.body?.cancel();
    current = next;
  }
  throw new HubError('bad-response', `${url}: more than ${MAX_REDIRECTS} redirects`);
}
