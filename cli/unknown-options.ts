/**
 * Strict flags with a suggestion: `--promt hi` is "unknown option --promt; did you mean
 * --prompt?", reported before yargs' own checks (which would only say that --prompt is missing).
 */
import type { Arguments, Argv, MiddlewareFunction } from 'yargs';
import { closestName } from '../core/closest-name.js';

/** A mistyped command line: the CLI prints it as a usage error (exit 2). */
export class UsageError extends Error {}

/** What yargs' `getOptions()` holds (not in its typings). */
interface YargsOptions {
  key: Record<string, unknown>;
  alias: Record<string, string[]>;
}

const flag = (name: string): string => (name.length === 1 ? `-${name}` : `--${name}`);

/** The first option in `argv` that the command does not define, with the nearest defined one. */
export function unknownOptionMessage(argv: Arguments, options: YargsOptions): string | undefined {
  const known = new Set<string>(Object.keys(options.key));
  for (const [name, aliases] of Object.entries(options.alias)) for (const a of [name, ...aliases]) known.add(a);
  for (const key of Object.keys(argv)) {
    if (key === '_' || key === '$0' || key === '--' || known.has(key)) continue;
    const near = closestName(
      key,
      [...known].filter((k) => k.length > 1 && k !== 'version'),
    );
    return `unknown option ${flag(key)}${near ? `; did you mean ${flag(near)}?` : ''}`;
  }
  return undefined;
}

/** Registers the check as a global middleware that runs before yargs validates the command. */
export function rejectUnknownOptions<T>(cli: Argv<T>): Argv<T> {
  // yargs passes the command's own instance as the second argument (missing from its typings)
  const check = (argv: Arguments, y: { getOptions(): YargsOptions }): void => {
    const message = unknownOptionMessage(argv, y.getOptions());
    if (message) throw new UsageError(message);
  };
  return cli.middleware(check as unknown as MiddlewareFunction<T>, true);
}
