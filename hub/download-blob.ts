/**
 * Downloads one file into `blobs/<etag>` the way huggingface_hub's `http_get` +
 * `_download_to_tmp_and_move` do, with the resume of its earlier releases kept:
 * - bytes stream to `blobs/<etag>.incomplete` (never held in memory); a download interrupted in
 *   this process or a killed one resumes there with `Range: bytes=<have>-` (the caller holds the
 *   etag's lock, so no other process writes that file);
 * - a dropped connection is retried from where it stopped, up to 5 times without progress;
 * - a server that ignores Range (200 instead of 206) restarts the file from 0;
 * - the result is checked: exact size, and the sha256 when the ETag is one (LFS files); a
 *   partial file that turns out corrupt is discarded and downloaded once more from 0;
 * - only then it is renamed to `blobs/<etag>`, so a file there is always complete.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { FileMetadata } from './file-metadata.js';
import { HubError } from './hub-error.js';
import { requestFollowing, timeoutMs, unreachable } from './http.js';
import type { HubSettings } from './settings.js';

export interface DownloadProgress {
  repoId: string;
  file: string;
  /** Bytes on disk so far (a resumed download starts above 0). */
  loaded: number;
  total: number;
  /** Bytes that were already there when this download started (so rates count only new bytes). */
  resumedFrom: number;
  done: boolean;
}
export type ProgressCallback = (p: DownloadProgress) => void;

export interface BlobTarget {
  repoId: string;
  file: string;
  blobPath: string;
  onProgress?: ProgressCallback;
}

const MAX_RETRIES = 5;
/** Pause before resuming after a dropped connection (huggingface_hub waits 1 s). */
const RETRY_PAUSE_MS = Number(process.env.POLYGLOT_HUB_RETRY_PAUSE_MS ?? 1000);

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/** sha256 of the file's first `bytes` bytes, read in chunks. */
async function hashPrefix(file: string, bytes: number): Promise<crypto.Hash> {
  const hash = crypto.createHash('sha256');
  if (bytes === 0) return hash;
  for await (const chunk of fs.createReadStream(file, { start: 0, end: bytes - 1 })) hash.update(chunk as Buffer);
  return hash;
}

/** `bytes START-END/TOTAL` -> START. */
function rangeStart(contentRange: string | null): number | undefined {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(contentRange ?? '');
  return m ? Number(m[1]) : undefined;
}

class Interrupted extends Error {}

export async function downloadBlob(settings: HubSettings, meta: FileMetadata, target: BlobTarget): Promise<void> {
  const incomplete = `${target.blobPath}.incomplete`;
  const what = `${target.repoId}: ${target.file}`;
  const resumedFrom = Math.min(sizeOf(incomplete), meta.size);
  const report = (loaded: number, done: boolean): void =>
    target.onProgress?.({ repoId: target.repoId, file: target.file, loaded, total: meta.size, resumedFrom, done });
  let retries = MAX_RETRIES;
  let freshStarts = 0;
  let hash: crypto.Hash | undefined;
  let hashed = 0;
  for (;;) {
    let have = sizeOf(incomplete);
    if (have > meta.size) {
      fs.truncateSync(incomplete, 0); // longer than the file can be: not ours to keep
      have = 0;
    }
    if (meta.sha256 && (hash === undefined || hashed !== have)) {
      hash = await hashPrefix(incomplete, have);
      hashed = have;
    }
    if (have < meta.size) {
      try {
        const restart = (offset: number): void => {
          if (offset === 0 && meta.sha256) {
            hash = crypto.createHash('sha256');
            hashed = 0;
          }
        };
        const got = await appendRange(settings, meta, incomplete, have, what, restart, (chunk, total) => {
          hash?.update(chunk);
          hashed = total;
          report(total, false);
        });
        if (got > have) retries = MAX_RETRIES; // progress resets the retry budget, as in huggingface_hub
      } catch (e) {
        if (e instanceof HubError) throw e;
        if (--retries <= 0) throw unreachable(settings, `${what} (${sizeOf(incomplete)} of ${meta.size} bytes, kept for a later resume)`, e);
        await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
      }
      continue;
    }
    const digest = meta.sha256 ? hash?.digest('hex') : undefined;
    hash = undefined;
    if (digest === undefined || digest === meta.etag) {
      fs.renameSync(incomplete, target.blobPath);
      report(meta.size, true);
      return;
    }
    fs.truncateSync(incomplete, 0);
    if (++freshStarts > 1) {
      throw new HubError('corrupt', `${what}: downloaded ${meta.size} bytes whose sha256 ${digest} is not the ETag ${meta.etag} the hub announced; try again later`);
    }
  }
}

/**
 * One GET from byte `from` appended to `file`; returns the bytes on disk afterwards. Throws
 * HubError for an HTTP refusal, anything else for a dropped or failed connection.
 */
async function appendRange(
  settings: HubSettings,
  meta: FileMetadata,
  file: string,
  from: number,
  what: string,
  onStart: (offset: number) => void,
  onChunk: (chunk: Uint8Array, total: number) => void,
): Promise<number> {
  const idle = new AbortController();
  let timer = setTimeout(() => idle.abort(), timeoutMs('HF_HUB_DOWNLOAD_TIMEOUT'));
  const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
  try {
    const { response } = await requestFollowing(meta.location, settings, { method: 'GET', relativeOnly: false, extraHeaders: headers, signal: idle.signal });
    if (response.status === 416 && from > 0) {
      fs.truncateSync(file, 0); // the server says our partial file does not fit the file any more
      throw new Interrupted('range not satisfiable');
    }
    if (response.status >= 500 || response.status === 429 || response.status === 408) throw new Interrupted(`HTTP ${response.status}`);
    if (response.status >= 400) throw new HubError('bad-response', `${what}: the download from ${new URL(meta.location).host} answered HTTP ${response.status} (its HEAD succeeded); try again`, response.status);
    let offset = from;
    if (from > 0 && (response.status !== 206 || rangeStart(response.headers.get('content-range')) !== from)) {
      offset = 0; // Range ignored (200) or answered for other bytes: start the file over
    }
    onStart(offset);
    const fh = await fs.promises.open(file, offset === 0 ? 'w' : 'a');
    try {
      if (response.body === null) throw new Interrupted('no body');
      const reader = response.body.getReader();
      for (;;) {
        const { done, value: chunk } = await reader.read();
        if (done) break;
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), timeoutMs('HF_HUB_DOWNLOAD_TIMEOUT'));
        const room = meta.size - offset;
        const piece = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
        await fh.write(piece);
        offset += piece.byteLength;
        onChunk(piece, offset);
        if (piece.byteLength < chunk.byteLength) {
          await reader.cancel(); // more bytes than announced: keep the announced size, the check decides
          break;
        }
      }
    } finally {
      await fh.close();
    }
    return offset;
  } finally {
    clearTimeout(timer);
  }
}
