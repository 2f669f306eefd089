import type { CommandModule } from 'yargs';
import { withBackend, startBackend, withWeights, type BackendArgs, type WeightsArgs } from '../common.js';
import { exportGraphModels, EXPORT_FORMATS, parseQuantizeMode, QUANTIZE_MODES, type ExportFormat } from '../../index.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface Args extends BackendArgs, ModelSourceArgs, WeightsArgs {
  dir: string;
  out: string;
  format: ExportFormat;
  quantize: string;
  force: boolean;
}

export const exportCommand: CommandModule<object, Args> = {
  command: 'export <dir>',
  describe: 'export a checkpoint as TensorFlow.js graph models (stock tf.loadGraphModel), with tokenizer files and a README',
  builder: (y) =>
    withRevision(withWeights(withBackend(y)))
      .positional('dir', { type: 'string', demandOption: true, describe: 'model directory or Hugging Face model id (ORG/NAME, downloaded into the hub cache when missing)' })
      .option('out', { type: 'string', demandOption: true, describe: 'output folder (must not exist unless --force)' })
      .option('format', { choices: EXPORT_FORMATS as unknown as string[], default: 'graph', describe: 'export format' })
      .option('quantize', { choices: QUANTIZE_MODES as string[], default: 'none', describe: 'weight quantization (dequantized by the tfjs loader)' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing output folder' }) as never,
  handler: async (args) => {
    await startBackend(args);
    const log = args.quiet ? undefined : (line: string) => process.stderr.write(`  ${line}\n`);
    const r = await exportGraphModels(await modelDirOf(args.dir, args), { out: args.out, format: args.format, quantize: parseQuantizeMode(args.quantize), weights: args.weights, force: args.force, log });
    for (const g of r.graphs) process.stdout.write(`${g.folder}\t${(g.bytes / 1e6).toFixed(2)} MB to load\n`);
    process.stdout.write(`exported ${r.modelType} to ${r.out} (${(r.totalBytes / 1e6).toFixed(2)} MB on disk, shared weights counted once; copied ${r.copied.join(', ') || 'nothing'})\n`);
  },
};
