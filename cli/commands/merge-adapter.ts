import type { CommandModule } from 'yargs';
import { mergeAdapterToDir } from '../../index.js';
import { withBackend, startBackend, type BackendArgs } from '../common.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface MergeAdapterArgs extends BackendArgs, ModelSourceArgs {
  model: string;
  adapter: string;
  out: string;
  force: boolean;
}

export const mergeAdapterCommand: CommandModule<object, MergeAdapterArgs> = {
  command: 'merge-adapter',
  describe: 'fold a LoRA adapter (peft format) into its base model: a plain HF model directory with W + (alpha/r) B A',
  builder: (y) =>
    withRevision(withBackend(y))
      .option('model', { type: 'string', demandOption: true, describe: 'base HF model directory, or hub model id ORG/NAME (downloaded into the hub cache when missing)' })
      .option('adapter', { type: 'string', demandOption: true, describe: 'adapter directory (adapter_config.json, adapter_model.safetensors)' })
      .option('out', { type: 'string', demandOption: true, describe: 'HF model directory to write' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing directory' }) as never,
  handler: async (args) => {
    await startBackend(args);
    const r = mergeAdapterToDir(await modelDirOf(args.model, args), args.adapter, args.out, args.force);
    process.stdout.write(`${r.merged} adapted modules merged; written to ${r.dir} (${r.weightFiles.join(', ')})\n`);
  },
};
