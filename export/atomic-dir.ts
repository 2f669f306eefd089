/**
 * Creates an output folder atomically: everything is written into a temporary sibling,
 * which is renamed into place only when complete. An existing folder is refused unless
 * `force`, and then replaced only after the new one is complete.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';

export async function writeDirAtomically<R>(out: string, force: boolean, fill: (tmpDir: string) => Promise<R> | R): Promise<R> {
  const target = path.resolve(out);
  if (fs.existsSync(target) && !force) {
    throw new PolyglotError(`${out}: output folder already exists (use --force to replace it)`);
  }
  if (fs.existsSync(target) && !fs.statSync(target).isDirectory()) {
    throw new PolyglotError(`${out}: expected a folder (or nothing) at the output path, found a file`);
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const tmp = `${target}.tmp-${tag}`;
  fs.mkdirSync(tmp);
  let result: R;
  try {
    result = await fill(tmp);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (e instanceof PolyglotError) throw e;
    // A write failure (ENOSPC, EIO, ...) is the user's disk, not an internal error: name the
    // output and say what is left, since nothing was renamed into place yet.
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string') {
      const kept = fs.existsSync(target) ? `the existing ${out} is intact` : `nothing was written to ${out}`;
      throw new PolyglotError(`${out}: cannot write the output (${code}: ${(e as Error).message}); ${kept}`);
    }
    throw e;
  }
  if (fs.existsSync(target)) {
    const old = `${target}.old-${tag}`;
    fs.renameSync(target, old);
    fs.renameSync(tmp, target);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, target);
  }
  return result;
}
