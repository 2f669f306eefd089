import type { CommandModule } from 'yargs';
import { acceptBackend } from '../common.js';
import { formatCount, upcycleCheckpoint, PolyglotError, type TorchFloatName } from '../../index.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface Args extends ModelSourceArgs {
  model: string;
  out: string;
  experts: number;
  'sparse-step'?: number;
  'sparse-layers'?: string;
  capacity?: string;
  'expert-noise': number;
  'router-std'?: number;
  'moe-token-dropout': number;
  seed: number;
  dtype: TorchFloatName;
  force: boolean;
  quiet: boolean;
}

function parseCapacity(v: string | undefined): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'auto' || v === 'null') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new PolyglotError(`--capacity: expected a positive integer or "auto", found ${JSON.stringify(v)}`);
  return n;
}

export const upcycleCommand: CommandModule<object, Args> = {
  command: 'upcycle',
  describe: 'sparse upcycling: a dense NLLB-200 / M2M-100 (or dense-layered NLLB-MoE) checkpoint -> an NLLB-MoE checkpoint whose chosen FFNs are E copies plus a router',
  builder: (y) =>
    withRevision(acceptBackend(y))
      .option('model', { type: 'string', demandOption: true, describe: 'dense model directory (m2m_100 or nllb-moe), or a hub id ORG/NAME (downloaded into the HF cache when missing)' })
      .option('out', { type: 'string', demandOption: true, describe: 'NLLB-MoE model directory to write (atomically)' })
      .option('experts', { type: 'number', demandOption: true, describe: 'experts per sparse layer (>= 2)' })
      .option('sparse-step', { type: 'number', describe: 'layer i of each side becomes sparse iff (i + 1) % step == 0 (HF NllbMoeConfig rule; default 2)' })
      .option('sparse-layers', { type: 'string', describe: 'or a list: "1,3" (both sides), "encoder.1,decoder.3"; must be a set a sparse step can express' })
      .option('capacity', { type: 'string', describe: 'expert_capacity (training tokens per expert), or "auto" = 2 * ceil(tokens / experts); default the source\'s, else 64' })
      .option('expert-noise', { type: 'number', default: 0, describe: 'std of Gaussian noise added to each expert copy (0 keeps the dense function exactly)' })
      .option('router-std', { type: 'number', describe: 'std of the router initialisation (default init_std, HF\'s Linear init)' })
      .option('moe-token-dropout', { type: 'number', default: 0, describe: 'moe_token_dropout of the result (0 keeps eval outputs equal to the dense model)' })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the router initialisation and the expert noise' })
      .option('dtype', { choices: ['float32', 'float16', 'bfloat16'] as TorchFloatName[], default: 'float32' as TorchFloatName, describe: 'float dtype written' })
      .option('force', { type: 'boolean', default: false, describe: 'replace the output directory if it exists' })
      .option('quiet', { type: 'boolean', default: false, describe: 'print nothing on success' }) as never,
  handler: async (args) => {
    const r = upcycleCheckpoint(await modelDirOf(args.model, args), args.out, {
      experts: args.experts,
      sparseStep: args['sparse-step'],
      sparseLayers: args['sparse-layers'] === undefined ? undefined : [args['sparse-layers']],
      capacity: parseCapacity(args.capacity),
      expertNoise: args['expert-noise'],
      routerStd: args['router-std'],
      moeTokenDropout: args['moe-token-dropout'],
      seed: args.seed,
      dtype: args.dtype,
      overwrite: args.force,
    });
    if (args.quiet) return;
    const list = (xs: number[]) => (xs.length ? xs.join(', ') : 'none');
    process.stdout.write(
      [
        `wrote ${r.dir} (${r.weightFiles.join(', ')}): nllb-moe, ${args.experts} experts`,
        `  sparse encoder layers: ${list(r.sparseLayers.encoder)}; sparse decoder layers: ${list(r.sparseLayers.decoder)}`,
        `  parameters: ${formatCount(r.sourceParameters)} -> ${formatCount(r.parameters)}`,
      ].join('\n') + '\n',
    );
  },
};
