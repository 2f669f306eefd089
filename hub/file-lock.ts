/**
 * A cross-process lock on `.locks/models--ORG--NAME/<etag>.lock`, the path huggingface_hub locks,
 * so two processes never write one `<etag>.incomplete` at once. Node has no flock, so the lock is
 * the file's existence (created with O_EXCL) holding "host pid nonce", kept fresh by touching it.
 * A lock is taken over when it is stale: its process is gone (same host), it has not been touched
 * for STALE_MS, or it is an empty file that old (the file Python's FileLock leaves behind, which it
 * never deletes; a live Python download writes a process-unique temporary file, so taking it over
 * costs at most a duplicate download, never a corrupt blob).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HubError } from './hub-error.js';

const TOUCH_MS = 1000;
const STALE_MS = 15_000;
const POLL_MS = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readLock(file: string): { content: string; ageMs: number } | undefined {
  try {
    const content = fs.readFileSync(file, 'utf8');
    return { content, ageMs: Date.now() - fs.statSync(file).mtimeMs };
  } catch {
    return undefined; // released between our attempts
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function isStale(lock: { content: string; ageMs: number }): boolean {
  if (lock.ageMs > STALE_MS) return true;
  const [host, pid] = lock.content.split(' ');
  return host === os.hostname() && /^\d+$/.test(pid ?? '') && !processAlive(Number(pid));
}

export interface HeldLock {
  release(): void;
}

export interface LockOptions {
  /** Give up after this long (default 30 minutes: another process may be downloading a large file). */
  timeoutMs?: number;
  /** Called once when the lock is busy, so the user knows why nothing moves. */
  onWait?: () => void;
}

export async function acquireLock(file: string, options: LockOptions = {}): Promise<HeldLock> {
  const mine = `${os.hostname()} ${process.pid} ${crypto.randomBytes(6).toString('hex')}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(file, mine, { flag: 'wx', mode: 0o664 });
      return hold(file, mine);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const seen = readLock(file);
    if (seen !== undefined && isStale(seen)) {
      // Replace the stale lock atomically, then check that no other process replaced it after us.
      const tmp = `${file}.${crypto.randomBytes(4).toString('hex')}.tmp`;
      fs.writeFileSync(tmp, mine, { mode: 0o664 });
      if (readLock(file)?.content === seen.content) fs.renameSync(tmp, file);
      else fs.rmSync(tmp, { force: true });
      await sleep(POLL_MS);
      if (readLock(file)?.content === mine) return hold(file, mine);
      continue;
    }
    if (Date.now() > deadline) {
      throw new HubError('locked', `${file}: still locked by another download after ${Math.round((options.timeoutMs ?? 1_800_000) / 1000)} s; if no other process is downloading, delete this file`);
    }
    if (!told) options.onWait?.();
    told = true;
    await sleep(POLL_MS);
  }
}

function hold(file: string, mine: string): HeldLock {
  const timer = setInterval(() => {
    const now = new Date();
    try {
      fs.utimesSync(file, now, now);
    } catch {
      // the lock was removed under us (someone deleted it by hand): nothing to keep fresh
    }
  }, TOUCH_MS);
  timer.unref();
  return {
    release(): void {
      clearInterval(timer);
      if (readLock(file)?.content === mine) fs.rmSync(file, { force: true });
    },
  };
}
