/** Runs the real `polyglot` binary for bad-input tests: one stderr line, exit 1, no trace, bounded time. */
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from './paths.js';
import { fixturePath } from './helpers.js';

const cli = path.join(packageRoot(), 'dist', 'cli', 'polyglot.js');

export interface CliRun {
  status: number | null;
  stderr: string;
  stdout: string;
  /** Wall time in ms. */
  ms: number;
}

/** Runs the CLI on the cpu backend; a run past `timeoutMs` is killed (status null). */
export function runCli(args: string[], timeoutMs = 60_000): CliRun {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [cli, ...args, '--backend', 'cpu'], { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 24 });
  return { status: r.status, stderr: r.stderr ?? '', stdout: r.stdout ?? '', ms: Date.now() - t0 };
}

export function expectOneLineError(args: string[], pattern: RegExp, timeoutMs = 60_000): CliRun {
  const run = runCli(args, timeoutMs);
  const { status, stderr } = run;
  assert.is(status, 1, `exit code (null: killed after ${timeoutMs} ms) (stderr: ${stderr.slice(0, 500)})`);
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('backend: '));
  assert.is(lines.length, 1, `one error line, found:\n${stderr.slice(0, 2000)}`);
  assert.match(lines[0], /^polyglot: /);
  assert.match(lines[0], pattern);
  assert.not.match(stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  return run;
}

/** A copy of a shared fixture (without its reference/ folder) under `root`, edited by `edit`. */
export function fixtureCopy(root: string, fixture: string, name: string, edit: (dir: string) => void): string {
  const dir = path.join(root, name);
  fs.cpSync(fixturePath(fixture), dir, { recursive: true });
  fs.rmSync(path.join(dir, 'reference'), { recursive: true, force: true });
  for (const f of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, f), 0o644);
  edit(dir);
  return dir;
}
