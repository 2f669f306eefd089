import type { CommandModule } from 'yargs';
import { acceptBackend } from '../common.js';
import { openPretrained, describeModel, formatCheckpointDescription } from '../../index.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface Args extends ModelSourceArgs {
  model: string;
  json: boolean;
}

export const infoCommand: CommandModule<object, Args> = {
  command: 'info <model>',
  describe: 'describe a checkpoint: architecture, config summary, parameter count, dtypes, size on disk',
  builder: (y) =>
    withRevision(acceptBackend(y))
      .positional('model', { type: 'string', demandOption: true, describe: 'model directory, or ORG/NAME (downloaded into the Hugging Face hub cache when missing)' })
      .option('json', { type: 'boolean', default: false, describe: 'print the description as JSON' }) as never,
  handler: async (args) => {
    const d = describeModel(await openPretrained(await modelDirOf(args.model, args)));
    process.stdout.write((args.json ? JSON.stringify(d, null, 1) : formatCheckpointDescription(d)) + '\n');
  },
};
