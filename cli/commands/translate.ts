import * as fs from 'node:fs';
import type { CommandModule } from 'yargs';
import { withBackend, startBackend, withWeights, applyWeights, type BackendArgs, type WeightsArgs } from '../common.js';
import { withDecoding, decodingOptions, type DecodingArgs } from './generate.js';
import { loadTranslator, PolyglotError, translate, withDefaults } from '../../index.js';

interface Args extends BackendArgs, DecodingArgs, WeightsArgs {
  model: string;
  'src-lang': string;
  'tgt-lang': string;
  text?: string[];
  input?: string;
  'batch-size': number;
  'max-input-length'?: number;
  json: boolean;
}

export const translateCommand: CommandModule<object, Args> = {
  command: 'translate [text..]',
  describe: 'translate sentences (arguments, or one a line from --input / stdin "-") with an NLLB-MoE model',
  builder: (y) =>
    withDecoding(withWeights(withBackend(y)), 200)
      .positional('text', { type: 'string', array: true, describe: 'sentences to translate' })
      .option('model', { type: 'string', demandOption: true, describe: 'NLLB-MoE model directory or Hugging Face model id in the local cache' })
      .option('src-lang', { type: 'string', demandOption: true, describe: 'source language code, e.g. eng_Latn' })
      .option('tgt-lang', { type: 'string', demandOption: true, describe: 'target language code, e.g. fra_Latn' })
      .option('input', { type: 'string', describe: 'file with one sentence a line ("-" = stdin); empty lines stay empty' })
      .option('batch-size', { type: 'number', default: 8, describe: 'sentences per batch' })
      .option('max-input-length', { type: 'number', describe: 'truncate sources to this many tokens' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON record per output' }) as never,
  handler: async (args) => {
    const given = (args.text ?? []).map(String);
    if (given.length > 0 && args.input !== undefined) throw new PolyglotError('translate: give sentences as arguments or --input FILE, not both');
    let lines: string[];
    if (args.input !== undefined) {
      // yargs hands a lone "-" to a string option as ""
      const src = args.input === '-' || args.input === '' ? 0 : args.input;
      if (src !== 0 && !fs.existsSync(src)) throw new PolyglotError(`--input ${args.input}: no such file`);
      const text = fs.readFileSync(src, 'utf8');
      lines = text.split(/\r?\n/);
      if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // final newline
    } else {
      lines = given;
    }
    if (lines.length === 0) throw new PolyglotError('translate: nothing to translate (give sentences or --input FILE)');
    await startBackend(args);
    const { model, tokenizer, generationConfig } = await loadTranslator(args.model);
    applyWeights(model, args);
    try {
      // empty lines are echoed as empty lines, not translated
      const todo = lines.map((l, i) => [l, i] as const).filter(([l]) => l.trim() !== '');
      const t0 = Date.now();
      const out = await translate(
        model,
        tokenizer,
        todo.map(([l]) => l),
        {
          ...withDefaults(generationConfig, decodingOptions(args)),
          srcLang: args['src-lang'],
          tgtLang: args['tgt-lang'],
          batchSize: args['batch-size'],
          maxInputLength: args['max-input-length'],
          onProgress: args.quiet
            ? undefined
            : (done, total) => process.stderr.write(`\rtranslated ${done}/${total} sentences (${(done / Math.max((Date.now() - t0) / 1000, 1e-9)).toFixed(2)} sentences/s)${done === total ? '\n' : ''}`),
        },
      );
      const byLine = new Map<number, string[]>();
      const perSentence = todo.length ? out.length / todo.length : 1;
      out.forEach((t) => {
        const line = todo[t.source][1];
        const list = byLine.get(line) ?? [];
        list.push(t.text);
        byLine.set(line, list);
        if (args.json) process.stdout.write(JSON.stringify({ line, source: lines[line], translation: t.text, ids: t.ids, score: t.score }) + '\n');
      });
      if (!args.json) {
        lines.forEach((_, i) => {
          const ts = byLine.get(i) ?? [''];
          if (perSentence > 1) ts.forEach((t, j) => process.stdout.write(`[${i}.${j}] ${t}\n`));
          else process.stdout.write(`${ts[0]}\n`);
        });
      }
    } finally {
      model.dispose();
    }
  },
};
