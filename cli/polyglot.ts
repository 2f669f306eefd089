#!/usr/bin/env node
/** `polyglot`: a thin command-line shell over the library (index.ts). */
import { createRequire } from 'node:module';
import type yargsType from 'yargs';
import { hideBin } from 'yargs/helpers';
import { PolyglotError } from '../core/errors.js';
import { commands } from './commands/index.js';
import { rejectUnknownOptions, UsageError } from './unknown-options.js';

// yargs' CommonJS build: its help formatter (cliui) wraps at word boundaries; the ESM build's
// cliui breaks words anywhere ("model dir / ectory").
const yargs = createRequire(import.meta.url)('yargs') as typeof yargsType;

/**
 * Generation options are validated by the library under their library names (numBeams); on the
 * command line the user typed flags (--num-beams), so the message names those.
 */
function asCliMessage(message: string): string {
  if (!message.startsWith('generate: ')) return message;
  return message.replace(/\b([a-z]+(?:[A-Z][a-z]*)+)\b/g, (name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

// One line, like every other error (issue 9): the flag's name and what is wrong; `--help` is known.
function usageFail(message: string): never {
  process.stderr.write(`polyglot: ${message}\n`);
  process.exit(2);
}

function fail(e: unknown): never {
  if (e instanceof UsageError) usageFail(e.message);
  if (e instanceof PolyglotError) {
    process.stderr.write(`polyglot: ${asCliMessage(e.message)}\n`);
  } else {
    const err = e as Error;
    process.stderr.write(`polyglot: internal error: ${err?.message ?? String(e)}\n`);
    if (process.env.POLYGLOT_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
  }
  process.exit(1);
}

process.on('unhandledRejection', fail);

let cli = yargs(hideBin(process.argv)).scriptName('polyglot')
  // flags are kebab-case only: no camelCase twins in errors ("Unknown arguments: max-new-token, maxNewToken")
  .parserConfiguration({ 'camel-case-expansion': false })
  .strict().demandCommand(1, 'name a command').recommendCommands();
for (const c of commands) cli = cli.command(c as never);
cli = rejectUnknownOptions(cli)
  .fail((msg, err) => {
    if (err) fail(err);
    usageFail(msg);
  })
  .help();
// a check that runs before yargs' validation (unknown options) throws synchronously out of parseAsync
Promise.resolve()
  .then(() => cli.parseAsync())
  .catch(fail);
