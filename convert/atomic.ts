/**
 * Atomic file and directory replacement: write a temp file in the target's own folder,
 * fsync it, rename it over the target. A crash leaves either the old file or the new
 * one, never a half-written checkpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';

let counter = 0;

/** A fresh sibling name for `target` (same folder, so rename stays on one filesystem). */
export function tempSiblingPath(target: string, tag = 'tmp'): string {
  const dir = path.dirname(target);
  const base = path.basename(target);
  return path.join(dir, `.${base}.${tag}-${process.pid}-${Date.now().toString(36)}-${(counter++).toString(36)}`);
}

/** Writes every byte of `chunk` at the current position of `fd`. */
export function writeAll(fd: number, chunk: Uint8Array): void {
  let done = 0;
  while (done < chunk.byteLength) done += fs.writeSync(fd, chunk, done, chunk.byteLength - done);
}

/** fsync a directory so a rename inside it is durable (not possible on every platform: best effort). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Windows cannot open directories; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Creates `target` atomically: `write(fd)` fills a temp file that is fsynced and renamed over it. */
export function writeFileAtomic(target: string, write: (fd: number) => void): void {
  const dir = path.dirname(target);
  if (!fs.existsSync(dir)) throw new PolyglotError(`${target}: cannot write, folder ${dir} does not exist`);
  const tmp = tempSiblingPath(target);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx');
    write(fd);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    if (e instanceof PolyglotError) throw e;
    throw new PolyglotError(`${target}: cannot write (${(e as Error).message})`);
  }
  fsyncDir(dir);
}
