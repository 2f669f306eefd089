/** Options and plumbing shared by every `polyglot` command. */
import type { Argv } from 'yargs';
import { BACKEND_NAMES, selectBackend, type BackendName } from '../backend/select.js';
import { nativeStatus } from '../backend/native.js';

export interface BackendArgs {
  backend: BackendName;
  quiet?: boolean;
}

/** The `--backend` option, one definition for every command. */
function backendOption<T>(y: Argv<T>, describe: string): Argv<T & { backend: BackendName }> {
  return y.option('backend', { choices: BACKEND_NAMES as BackendName[], default: 'auto' as BackendName, describe }) as unknown as Argv<
    T & { backend: BackendName }
  >;
}

export function withBackend<T>(y: Argv<T>): Argv<T & BackendArgs> {
  return backendOption(y, 'compute backend').option('quiet', { type: 'boolean', default: false, describe: 'less output' }) as unknown as Argv<
    T & BackendArgs
  >;
}

/**
 * `--backend` on a command that does no tensor math (info, convert, tokenize): accepted so
 * every command takes the same flag, and validated, but no backend is started.
 */
export function acceptBackend<T>(y: Argv<T>): Argv<T & { backend: BackendName }> {
  return backendOption(y, 'compute backend (this command does no tensor math)');
}

/** Activates the backend and says which one was chosen (on stderr, so stdout stays clean for --json). */
export async function startBackend(args: BackendArgs): Promise<string> {
  const name = await selectBackend(args.backend);
  // On wasm, the same line says whether the native kernels run (and why not).
  if (!args.quiet) process.stderr.write(`backend: ${name}${name === 'wasm' ? ` (${nativeStatus().line})` : ''}\n`);
  return name;
}
