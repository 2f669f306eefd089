/** Running the real `polyglot` CLI in a child process (from sources through tsx, or compiled). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const cli = fromSource ? path.resolve(here, '../cli/polyglot.ts') : path.resolve(here, '../cli/polyglot.js');
const nodeArgs = fromSource ? ['--import', 'tsx'] : [];

export function startCli(args: string[], stdin?: string): ChildProcess {
  const p = spawn(process.execPath, [...nodeArgs, cli, ...args], { stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], cwd: path.resolve(here, '..') });
  if (stdin !== undefined) p.stdin!.end(stdin);
  return p;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cliFinished(p: ChildProcess): Promise<CliResult> {
  let stderr = '';
  let stdout = '';
  p.stderr!.on('data', (d) => (stderr += d));
  p.stdout!.on('data', (d) => (stdout += d));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr })));
}

export const runCli = (args: string[], stdin?: string): Promise<CliResult> => cliFinished(startCli(args, stdin));

/** Sends `signal` to a child once `file` has more than `lines` lines (a training run's metrics). */
export function signalAfterLines(child: ChildProcess, file: string, lines: number, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('\n').length > lines) {
        clearInterval(t);
        child.kill(signal);
        resolve();
      }
    }, 20);
  });
}
