import type { CommandModule } from 'yargs';
import { withBackend, startBackend, type BackendArgs } from '../common.js';
import { quantizeCheckpoint, QUANTIZE_DTYPES, formatBytes, parseByteSize, type QuantizeDType } from '../../index.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface Args extends ModelSourceArgs, BackendArgs {
  input: string;
  out: string;
  dtype: QuantizeDType;
  force: boolean;
  'max-shard-size'?: string;
}

export const quantizeCommand: CommandModule<object, Args> = {
  command: 'quantize <input>',
  describe: 'write a model directory with int8 linear weights (per output channel, float32 scales) or 16-bit weights (docs/QUANTIZATION.md)',
  builder: (y) =>
    withRevision(withBackend(y))
      .positional('input', { type: 'string', demandOption: true, describe: 'model directory, or ORG/NAME (downloaded into the Hugging Face hub cache when missing)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output model directory (created atomically)' })
      .option('dtype', { choices: QUANTIZE_DTYPES as QuantizeDType[], default: 'int8' as QuantizeDType, describe: 'int8: linear weights as I8 + F32 scales, the rest as stored; bfloat16/float16: every float weight' })
      .option('force', { type: 'boolean', default: false, describe: 'replace the output directory if it exists' })
      .option('max-shard-size', { type: 'string', describe: 'split into shards of at most this size (e.g. 2GB, 500MiB)' }) as never,
  handler: async (args) => {
    const input = await modelDirOf(args.input, args);
    if (args.dtype === 'int8') await startBackend(args); // the model is loaded to pick its linear weights
    const r = quantizeCheckpoint(input, args.out, {
      dtype: args.dtype,
      force: args.force,
      maxShardBytes: args['max-shard-size'] !== undefined ? parseByteSize(args['max-shard-size']) : undefined,
    });
    if (args.quiet) return;
    const what = args.dtype === 'int8' ? `${r.int8Tensors} linear weights as int8, (+ their float32 scales), the other ${r.tensorCount - 2 * r.int8Tensors} tensors as ${r.dtype}` : `${r.tensorCount} tensors as ${r.dtype}`;
    process.stdout.write(`wrote ${r.dir}: ${what}, ${formatBytes(r.totalSize)} in ${r.weightFiles.join(', ')}\n`);
  },
};
