import type { CommandModule } from 'yargs';
import { PolyglotError } from '../../core/errors.js';
import { withBackend, startBackend, withMaxMemory, maxMemoryOption, type BackendArgs, type MaxMemoryArgs } from '../common.js';
import { verifyFixture, formatResultsTable } from '../../verify/verify.js';
import { WEIGHT_PRECISIONS, type WeightPrecision } from '../../layers/weight-precision.js';
import { withMergedModelDir } from '../../index.js';
import { adapterOption, type AdapterArgs } from '../lora-options.js';

interface Args extends BackendArgs, AdapterArgs, MaxMemoryArgs {
  dir: string;
  json: boolean;
  filter?: string;
  weights: WeightPrecision;
}

export const verifyCommand: CommandModule<object, Args> = {
  command: 'verify <dir>',
  describe: 'run every reference case of a fixture (model or tokenizer) and compare within tolerance',
  builder: (y) =>
    adapterOption(withMaxMemory(withBackend(y)))
      .positional('dir', { type: 'string', demandOption: true, describe: 'fixture directory' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON record per case (JSON Lines) instead of the table' })
      .option('filter', { type: 'string', describe: 'only cases whose name matches this regular expression' })
      .option('weights', { choices: WEIGHT_PRECISIONS as WeightPrecision[], default: 'float32' as WeightPrecision, describe: 'precision of the linear weights (int8/16-bit: the table shows the measured error against the float32 reference)' }) as never,
  handler: async (args) => {
    await startBackend({ ...args, quiet: args.quiet || args.json });
    const run = (dir: string) =>
      verifyFixture(dir, {
        filter: args.filter ? filterPattern(args.filter) : undefined,
        weights: args.weights,
        ...maxMemoryOption(args),
        onResult: args.json || args.quiet ? undefined : (r) => process.stderr.write(`  ${r.case}: ${r.status}\n`),
      });
    // With an adapter: the fixture's model with the adapter merged in (equal to the unmerged model up to
    // float rounding), checked against the fixture's references (e.g. saved from a peft model).
    const results = args.adapter ? await withMergedModelDir(args.dir, args.adapter, run, ['reference', 'cases.json']) : await run(args.dir);
    if (args.json) {
      // JSON Lines: one record per case, as the help says
      for (const r of results) {
        const record = { fixture: r.fixture, case: r.case, kind: r.kind, status: r.status, max_abs_error: r.maxAbsError, max_rel_error: r.maxRelError, rtol: r.rtol, atol: r.atol, check: r.check, message: r.message };
        process.stdout.write(JSON.stringify(record) + '\n');
      }
    } else {
      process.stdout.write(formatResultsTable(results) + '\n');
      const counts = { pass: 0, fail: 0, unsupported: 0 };
      results.forEach((r) => counts[r.status]++);
      process.stdout.write(`${counts.pass} passed, ${counts.fail} failed, ${counts.unsupported} unsupported\n`);
    }
    if (results.length === 0 || results.some((r) => r.status !== 'pass')) process.exitCode = 1;
  },
};

function filterPattern(source: string): RegExp {
  try {
    return new RegExp(source);
  } catch (e) {
    throw new PolyglotError(`--filter ${source}: not a regular expression (${(e as Error).message.replace(/^Invalid regular expression: /, '')})`);
  }
}
