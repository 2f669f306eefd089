import type { CommandModule } from 'yargs';
import { acceptBackend } from '../common.js';
import { convertCheckpoint, formatBytes, parseByteSize, type TorchFloatName } from '../../index.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface Args extends ModelSourceArgs {
  input: string;
  out: string;
  dtype?: TorchFloatName;
  force: boolean;
  'max-shard-size'?: string;
  quiet: boolean;
}

export const convertCommand: CommandModule<object, Args> = {
  command: 'convert <input>',
  describe: 'rewrite a checkpoint (pytorch_model.bin, sharded, safetensors) as a safetensors model directory, optionally in another float dtype',
  builder: (y) =>
    withRevision(acceptBackend(y))
      .positional('input', { type: 'string', demandOption: true, describe: 'model directory, or ORG/NAME (downloaded into the Hugging Face hub cache when missing)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output model directory (created atomically)' })
      .option('dtype', { choices: ['float32', 'float16', 'bfloat16'] as TorchFloatName[], describe: 'float dtype of the output (default: as stored)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace the output directory if it exists' })
      .option('max-shard-size', { type: 'string', describe: 'split into shards of at most this size (e.g. 2GB, 500MiB)' })
      .option('quiet', { type: 'boolean', default: false, describe: 'print nothing on success' }) as never,
  handler: async (args) => {
    const r = convertCheckpoint(await modelDirOf(args.input, args), args.out, {
      dtype: args.dtype,
      force: args.force,
      maxShardBytes: args['max-shard-size'] !== undefined ? parseByteSize(args['max-shard-size']) : undefined,
    });
    if (args.quiet) return;
    const lines = [
      `wrote ${r.dir}: ${r.tensorCount} tensors as ${r.dtype}, ${formatBytes(r.totalSize)} in ${r.weightFiles.join(', ')}`,
      ...r.droppedAliases.map((a) => `  tied: ${a.name} not stored (same storage as ${a.of}; tie_word_embeddings)`),
      `  copied: ${r.copiedFiles.length ? r.copiedFiles.join(', ') : '(nothing)'}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
  },
};
