#!/usr/bin/env node
/** `polyglot`: a thin command-line shell over the library (index.ts). */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { PolyglotError } from '../core/errors.js';
import { commands } from './commands/index.js';

function fail(e: unknown): never {
  if (e instanceof PolyglotError) {
    process.stderr.write(`polyglot: ${e.message}\n`);
  } else {
    const err = e as Error;
    process.stderr.write(`polyglot: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.POLYGLOT_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
  }
  process.exit(1);
}

process.on('unhandledRejection', fail);

let cli = yargs(hideBin(process.argv)).scriptName('polyglot').strict().demandCommand(1, 'name a command').recommendCommands();
for (const c of commands) cli = cli.command(c as never);
cli
  .fail((msg, err) => {
    if (err) fail(err);
    process.stderr.write(`polyglot: ${msg}\n(see polyglot --help)\n`);
    process.exit(2);
  })
  .help()
  .parseAsync()
  .catch(fail);
