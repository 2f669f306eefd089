import * as fs from 'node:fs';
import type { CommandModule } from 'yargs';
import { initModelDir, syntheticPairs, PolyglotError, type Arch } from '../../index.js';
import { acceptBackend } from '../common.js';

interface InitArgs {
  arch: string;
  out: string;
  'd-model': number;
  layers?: number;
  'encoder-layers'?: number;
  'decoder-layers'?: number;
  heads: number;
  'ffn-dim'?: number;
  experts: number;
  'sparse-step': number;
  'expert-capacity'?: number;
  'max-positions': number;
  'tokenizer-corpus'?: string[];
  'min-word-count': number;
  seed: number;
  force: boolean;
}

/** Texts for the tokenizer vocabulary: text lines, JSONL text / src+tgt fields. */
function corpusTexts(files: string[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (!fs.existsSync(f)) throw new PolyglotError(`--tokenizer-corpus ${f}: file not found`);
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      const l = line.trim();
      if (!l) continue;
      if (l.startsWith('{')) {
        try {
          const r = JSON.parse(l) as Record<string, unknown>;
          for (const k of ['text', 'src', 'tgt']) if (typeof r[k] === 'string') out.push(r[k] as string);
          continue;
        } catch {
          // not JSON: a text line that starts with "{"
        }
      }
      out.push(l);
    }
  }
  return out;
}

export const initCommand: CommandModule<object, InitArgs> = {
  command: 'init',
  describe: 'create a fresh XGLM or NLLB-MoE model (HF initialisation) with a tokenizer, as an HF model directory',
  builder: (y) =>
    acceptBackend(y)
      .option('arch', { choices: ['xglm', 'nllb-moe'], demandOption: true, describe: 'architecture' })
      .option('out', { type: 'string', demandOption: true, describe: 'model directory to write' })
      .option('d-model', { type: 'number', default: 128, describe: 'hidden size' })
      .option('layers', { type: 'number', describe: 'xglm: layers; nllb-moe: encoder and decoder layers (default 2)' })
      .option('encoder-layers', { type: 'number', describe: 'nllb-moe encoder layers' })
      .option('decoder-layers', { type: 'number', describe: 'nllb-moe decoder layers' })
      .option('heads', { type: 'number', default: 4, describe: 'attention heads' })
      .option('ffn-dim', { type: 'number', describe: 'feed-forward size (default 4 x d-model)' })
      .option('experts', { type: 'number', default: 4, describe: 'nllb-moe: experts per sparse layer' })
      .option('sparse-step', { type: 'number', default: 2, describe: 'nllb-moe: every N-th layer is sparse' })
      .option('expert-capacity', { type: 'number', describe: 'nllb-moe: training capacity per expert (default: 2*ceil(tokens/experts), HF null)' })
      .option('max-positions', { type: 'number', default: 256, describe: 'max_position_embeddings' })
      .option('tokenizer-corpus', { type: 'string', array: true, describe: 'text / JSONL files the vocabulary is built from (default: the synthetic EN->FR demo task)' })
      .option('min-word-count', { type: 'number', default: 2, describe: 'words seen this often become one token' })
      .option('seed', { type: 'number', default: 0, describe: 'initialisation seed' })
      .option('force', { type: 'boolean', default: false, describe: 'replace an existing directory' }) as never,
  handler: async (args) => {
    const arch = args.arch as Arch;
    const d = args['d-model'];
    if (!(Number.isInteger(d) && d > 0 && d % args.heads === 0)) throw new PolyglotError(`--d-model: expected a positive multiple of --heads (${args.heads}), found ${d}`);
    const ffn = args['ffn-dim'] ?? 4 * d;
    const config: Record<string, unknown> =
      arch === 'xglm'
        ? { d_model: d, num_layers: args.layers ?? 2, attention_heads: args.heads, ffn_dim: ffn, max_position_embeddings: args['max-positions'] }
        : {
            d_model: d,
            encoder_layers: args['encoder-layers'] ?? args.layers ?? 2,
            decoder_layers: args['decoder-layers'] ?? args.layers ?? 2,
            encoder_attention_heads: args.heads,
            decoder_attention_heads: args.heads,
            encoder_ffn_dim: ffn,
            decoder_ffn_dim: ffn,
            num_experts: args.experts,
            encoder_sparse_step: args['sparse-step'],
            decoder_sparse_step: args['sparse-step'],
            expert_capacity: args['expert-capacity'] ?? null,
            max_position_embeddings: args['max-positions'],
          };
    const texts = args['tokenizer-corpus'] ? corpusTexts(args['tokenizer-corpus']) : syntheticPairs(20000, 1).flatMap((p) => [p.src, p.tgt]);
    const { result, config: written } = initModelDir(args.out, { arch, config, tokenizerTexts: texts, seed: args.seed, overwrite: args.force, minWordCount: args['min-word-count'] });
    process.stdout.write(`${arch} model written to ${result.dir}: vocab ${written.vocab_size}, ${(result.totalSize / 4 / 1e6).toFixed(2)}M parameters\n`);
  },
};
