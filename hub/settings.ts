/**
 * Hub settings read from the environment exactly as huggingface_hub's `constants.py` and
 * `utils/_auth.py` read them, so Python and this toolkit share one cache and one token:
 * HF_ENDPOINT, HF_HUB_CACHE (legacy HUGGINGFACE_HUB_CACHE) / HF_HOME / XDG_CACHE_HOME,
 * HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE), HF_TOKEN (legacy HUGGING_FACE_HUB_TOKEN), then the
 * token file HF_TOKEN_PATH or $HF_HOME/token. See docs/HUB.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubSettings {
  /** Base URL of the hub, without a trailing slash. */
  endpoint: string;
  /** The hub cache folder (holds `models--ORG--NAME`, `.locks`). */
  cacheDir: string;
  /** true: never touch the network, use only what the cache holds. */
  offline: boolean;
  /** Bearer token sent to the endpoint (never to redirect targets on other hosts). */
  token?: string;
  /** Where the token came from, for error messages ("HF_TOKEN", a file path, "the token option"). */
  tokenSource?: string;
  /** Where a user can save a token (HF_TOKEN_PATH or $HF_HOME/token). */
  tokenPath: string;
}

/** What a caller may set instead of the environment (the registry's fromPretrained options). */
export interface HubOverrides {
  cacheDir?: string;
  endpoint?: string;
  /** `false`: send no token even if HF_TOKEN or the token file has one. */
  token?: string | false;
  /** true: behave as HF_HUB_OFFLINE=1 (transformers' `local_files_only`). */
  localFilesOnly?: boolean;
}

/** huggingface_hub's `_is_true`: 1, ON, YES, TRUE in any case. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HOME) return expandHome(env.HF_HOME);
  return path.join(env.XDG_CACHE_HOME ? expandHome(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache'), 'huggingface');
}

/** The hub cache folder: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub (see hfHome). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  return explicit ? expandHome(explicit) : path.join(hfHome(env), 'hub');
}

/** huggingface_hub's `_clean_token`: line breaks removed, blanks trimmed, empty means none. */
function cleanToken(token: string | undefined): string | undefined {
  const t = token?.replace(/[\r\n]/g, '').trim();
  return t ? t : undefined;
}

export function hubSettings(overrides: HubOverrides = {}, env: NodeJS.ProcessEnv = process.env): HubSettings {
  const tokenPath = env.HF_TOKEN_PATH ? expandHome(env.HF_TOKEN_PATH) : path.join(hfHome(env), 'token');
  const settings: HubSettings = {
    endpoint: (overrides.endpoint ?? (env.HF_ENDPOINT || DEFAULT_ENDPOINT)).replace(/\/+$/, ''),
    cacheDir: overrides.cacheDir ?? hubCacheDir(env),
    offline: overrides.localFilesOnly === true || isTrue(env.HF_HUB_OFFLINE || env.TRANSFORMERS_OFFLINE),
    tokenPath,
  };
  if (overrides.token === false) return settings;
  const given = cleanToken(overrides.token);
  const fromEnv = cleanToken(env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN);
  if (given) return { ...settings, token: given, tokenSource: 'the token option' };
  if (fromEnv) return { ...settings, token: fromEnv, tokenSource: env.HF_TOKEN ? 'HF_TOKEN' : 'HUGGING_FACE_HUB_TOKEN' };
  let fromFile: string | undefined;
  try {
    fromFile = cleanToken(fs.readFileSync(tokenPath, 'utf8'));
  } catch {
    fromFile = undefined; // no token file: anonymous, as huggingface_hub
  }
  return fromFile ? { ...settings, token: fromFile, tokenSource: tokenPath } : settings;
}
