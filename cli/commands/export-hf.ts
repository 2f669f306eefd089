import type { CommandModule } from 'yargs';
import { exportCheckpoint } from '../../index.js';
import { withBackend, startBackend, type BackendArgs } from '../common.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface ExportHfArgs extends BackendArgs, ModelSourceArgs {
  model: string;
  checkpoint: string;
  out: string;
  force: boolean;
}

export const exportHfCommand: CommandModule<object, ExportHfArgs> = {
  command: 'export-hf',
  describe: 'write a training checkpoint as a Hugging Face model directory (config, model.safetensors, tokenizer, generation_config)',
  builder: (y) =>
    withRevision(withBackend(y))
      .option('model', { type: 'string', demandOption: true, describe: 'the model directory (or hub id ORG/NAME) training started from (config + tokenizer)' })
      .option('checkpoint', { type: 'string', demandOption: true, describe: 'a checkpoint-<step> folder, or a training --out folder (its newest checkpoint)' })
      .option('out', { type: 'string', demandOption: true, describe: 'HF model directory to write' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing directory' }) as never,
  handler: async (args) => {
    await startBackend(args);
    const { result, step } = exportCheckpoint(await modelDirOf(args.model, args), args.checkpoint, args.out, args.force);
    process.stdout.write(`step ${step} written to ${result.dir} (${result.weightFiles.join(', ')})\n`);
  },
};
