/**
 * `resolveModel(idOrDir, options)`: the model folder to load from. A directory is used as it is;
 * an ORG/NAME id becomes a snapshot folder of the hub cache, downloaded first when the cache lacks
 * files (unless offline). The one entry point loaders call.
 */
import * as fs from 'node:fs';
import { PolyglotError } from '../core/errors.js';
import { REPO_ID } from './cache-layout.js';
import { downloadModel } from './download-model.js';
import type { ProgressCallback } from './download-blob.js';
import { hubSettings, type HubOverrides } from './settings.js';

export interface ResolveModelOptions extends HubOverrides {
  /** Branch, tag or commit (default "main"); only for model ids. */
  revision?: string;
  onProgress?: ProgressCallback;
  /** Told when another process is downloading the same file. */
  onLockWait?: (file: string) => void;
}

export async function resolveModel(idOrDir: string, options: ResolveModelOptions = {}): Promise<string> {
  if (fs.existsSync(idOrDir)) {
    if (!fs.statSync(idOrDir).isDirectory()) throw new PolyglotError(`${idOrDir}: expected a model directory, found a file`);
    if (options.revision !== undefined) throw new PolyglotError(`${idOrDir}: --revision applies to hub model ids (ORG/NAME), and this is a local directory`);
    return idOrDir;
  }
  if (!REPO_ID.test(idOrDir)) throw new PolyglotError(`${idOrDir}: no such directory (and not an ORG/NAME model id)`);
  const settings = hubSettings(options);
  return downloadModel(settings, idOrDir, options.revision ?? 'main', { onProgress: options.onProgress, onLockWait: options.onLockWait });
}
