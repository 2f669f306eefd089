/**
 * The model folder is the trust boundary: a checkpoint is untrusted, so every file of it is
 * reached through `modelFile` (where it may be) and opened through `openRegularFile` (what it
 * may be). A symlink is followed only when it resolves inside the folder, or, for a Hugging Face
 * hub cache snapshot (`models--ORG--NAME/snapshots/<rev>/`), into that repo's `blobs/` folder,
 * which is where huggingface_hub's relative snapshot links point. Only regular files are opened:
 * a FIFO, a device or a folder is refused before a byte is read, and files are opened
 * non-blocking so that a FIFO swapped in cannot hang the open.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';

/** JSON side files (config.json, generation_config.json, indexes, tokenizer configs) past this are refused. */
export const MAX_JSON_BYTES = 16 * 1024 * 1024;

function isInside(file: string, folder: string): boolean {
  const rel = path.relative(folder, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Real folders a model folder's files may resolve into: itself, and for a hub snapshot its repo's blobs/. */
function allowedRoots(dir: string): string[] {
  const real = fs.realpathSync(dir);
  const snapshots = path.dirname(real);
  const repo = path.dirname(snapshots);
  if (path.basename(snapshots) === 'snapshots' && path.basename(repo).startsWith('models--')) return [real, path.join(repo, 'blobs')];
  return [real];
}

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Checks that `name` is a plain file name (what an index's weight_map or a file list may name). */
export function checkPlainFileName(name: unknown, where: string): asserts name is string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new PolyglotError(`${where}: expected a plain file name inside the model folder, found ${JSON.stringify(name)}`);
  }
}

/**
 * `dir/name` after checking it stays inside the model folder and is a regular file; undefined
 * when it does not exist. Throws a PolyglotError naming the file otherwise.
 */
export function findModelFile(dir: string, name: string): string | undefined {
  checkPlainFileName(name, `${path.join(dir, '?')}`);
  const file = path.join(dir, name);
  let link: fs.Stats;
  try {
    link = fs.lstatSync(file);
  } catch {
    return undefined;
  }
  let real = file;
  if (link.isSymbolicLink()) {
    try {
      real = fs.realpathSync(file);
    } catch {
      throw new PolyglotError(`${file}: a symlink whose target does not exist`);
    }
    const roots = allowedRoots(dir);
    if (!roots.some((r) => isInside(real, r))) {
      throw new PolyglotError(`${file}: links to ${real}, outside the model folder; only files inside it${roots.length > 1 ? ' (or its hub cache blobs/)' : ''} are read`);
    }
  }
  const st = fs.statSync(real);
  if (!st.isFile()) throw new PolyglotError(`${file}: expected a regular file, found ${kindOf(st)}`);
  return file;
}

/**
 * Whether `dir/name` is a file that may be copied into an output: a regular file inside the
 * model folder (or a hub cache link into its blobs/). Links elsewhere, FIFOs, devices: false.
 */
export function isCopyableModelFile(dir: string, name: string): boolean {
  try {
    return findModelFile(dir, name) !== undefined;
  } catch (e) {
    if (e instanceof PolyglotError) return false;
    throw e;
  }
}

/** `findModelFile` for a file that must exist. */
export function modelFile(dir: string, name: string, what = 'file'): string {
  const f = findModelFile(dir, name);
  if (f === undefined) throw new PolyglotError(`${path.join(dir, name)}: ${what} not found`);
  return f;
}

/**
 * Opens a file for reading only if it is a regular file (non-blocking, so a FIFO cannot hang the
 * open; fstat afterwards, so what was opened is what was checked). Callers close the fd.
 */
export function openRegularFile(file: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    throw new PolyglotError(`${file}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new PolyglotError(`${file}: expected a regular file, found ${kindOf(st)}`);
  }
  return { fd, size: st.size };
}

/** The whole of a regular file, refusing it past `maxBytes` (before reading). */
export function readRegularFile(file: string, maxBytes: number, what = 'file'): Buffer {
  const { fd, size } = openRegularFile(file);
  try {
    if (size > maxBytes) throw new PolyglotError(`${file}: ${what} of ${size} bytes is larger than the ${maxBytes}-byte limit`);
    const buf = Buffer.alloc(size);
    let done = 0;
    while (done < size) {
      const got = fs.readSync(fd, buf, done, size - done, done);
      if (got <= 0) break;
      done += got;
    }
    return buf.subarray(0, done);
  } finally {
    fs.closeSync(fd);
  }
}

/** Copies a file of a model folder (already checked by `findModelFile`) without following anything else. */
export function copyModelFile(source: string, dest: string): void {
  const dir = path.dirname(source);
  const checked = modelFile(dir, path.basename(source));
  const { fd } = openRegularFile(checked);
  try {
    const out = fs.openSync(dest, 'wx', 0o644);
    try {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const got = fs.readSync(fd, buf, 0, buf.length, null);
        if (got <= 0) break;
        fs.writeSync(out, buf, 0, got);
      }
    } finally {
      fs.closeSync(out);
    }
  } finally {
    fs.closeSync(fd);
  }
}
