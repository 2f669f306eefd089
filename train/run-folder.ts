/**
 * The training output folder (`--out`): refused when it holds an earlier run unless the run is
 * resumed or `--force` starts over; locked while a run writes into it (a lock file with the
 * writer's PID, released on exit; a lock whose PID is not running is stale and taken over);
 * and the checks on where the final model may be written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { isProcessAlive } from '../checkpoints/process-alive.js';

export const LOCK_FILE = '.polyglot-train.lock';
/** What a run writes into --out, and what --force deletes (nothing else is touched). */
const RUN_OUTPUTS = ['metrics.jsonl', 'loss.png', 'loss.svg', 'checkpoints', 'model'];

export interface RunFolder {
  dir: string;
  release(): void;
}

function lockHolder(lock: string): number | undefined {
  try {
    const pid = (JSON.parse(fs.readFileSync(lock, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' ? pid : undefined;
  } catch {
    return undefined;
  }
}

function acquireLock(dir: string, flag: string): () => void {
  const lock = path.join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, started: new Date().toISOString() }), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const pid = lockHolder(lock);
      // An unreadable lock younger than a few seconds may be one being written right now.
      const young = pid === undefined && Date.now() - fs.statSync(lock).mtimeMs < 5000;
      if ((pid !== undefined && pid !== process.pid && isProcessAlive(pid)) || young) {
        throw new PolyglotError(`${flag} ${dir}: another polyglot train${pid ? ` (PID ${pid})` : ''} is writing into this folder (${LOCK_FILE}); wait for it to end or use another folder`);
      }
      fs.rmSync(lock, { force: true }); // stale: its process is gone
    }
  }
  const release = () => {
    if (lockHolder(lock) === process.pid) fs.rmSync(lock, { force: true });
    process.removeListener('exit', release);
  };
  process.on('exit', release);
  return release;
}

/** Creates an output folder (and its parents), or says in one line why it cannot be one. */
export function makeFolder(dir: string, what: string): void {
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new PolyglotError(`${what}: expected a folder, found a file`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of its path is a file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (e as Error).message;
    throw new PolyglotError(`${what}: cannot create the folder: ${why}`);
  }
}

/** Opens --out for a run: created if needed, locked, and refused if it holds an earlier run without resume / force. */
export function openRunFolder(outDir: string, o: { resume?: string; force?: boolean }): RunFolder {
  const dir = path.resolve(outDir);
  makeFolder(dir, `--out ${outDir}`);
  const release = acquireLock(dir, '--out');
  try {
    const present = fs.readdirSync(dir).filter((n) => n !== LOCK_FILE);
    if (present.length > 0 && o.resume === undefined) {
      if (!o.force) {
        throw new PolyglotError(`--out ${outDir}: the folder is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}): --resume ${outDir} continues its run, --force starts over (deleting its ${RUN_OUTPUTS.join(', ')})`);
      }
      for (const n of RUN_OUTPUTS) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
    }
  } catch (e) {
    release();
    throw e;
  }
  return { dir, release };
}

function realOrResolved(p: string): string {
  const abs = path.resolve(p);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs;
  }
}

const within = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(path.sep) ? parent : parent + path.sep);

/**
 * Where the final model goes: never the --model folder, inside it or around it (replacing it
 * would delete the source), and an existing non-empty folder only with --force (the default
 * <out>/model belongs to the run and is checked with --out).
 */
export function checkExportDir(exportDir: string, sourceDir: string, o: { force?: boolean; ownedByRun: boolean }): void {
  const out = realOrResolved(exportDir);
  const src = realOrResolved(sourceDir);
  if (within(out, src) || within(src, out)) {
    throw new PolyglotError(`--export-dir ${exportDir}: is the --model folder ${sourceDir}, inside it or contains it; writing the model there would replace the source: choose another folder`);
  }
  if (o.ownedByRun || o.force || !fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new PolyglotError(`--export-dir ${exportDir}: expected a folder, found a file`);
  if (fs.readdirSync(out).length > 0) throw new PolyglotError(`--export-dir ${exportDir}: the folder exists and is not empty: --force replaces it`);
}
