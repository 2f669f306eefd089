import * as fs from 'node:fs';
import type { CommandModule } from 'yargs';
import { adapterOption, type AdapterArgs } from '../lora-options.js';
import { withBackend, startBackend, withWeights, applyWeights, withMaxMemory, maxMemoryOption, reportExpertCache, type BackendArgs, type WeightsArgs, type MaxMemoryArgs } from '../common.js';
import { withDecoding, decodingOptions, type DecodingArgs } from './generate.js';
import { loadPeftAdapter, checkTextLength, loadTranslator, PolyglotError, translate, withDefaults } from '../../index.js';
import { progressLine } from '../progress-line.js';
import { warnPastPositionLimit } from '../position-limit.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface Args extends BackendArgs, DecodingArgs, ModelSourceArgs, WeightsArgs, AdapterArgs, MaxMemoryArgs {
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
  describe: 'translate sentences (arguments; after -- for text starting with "-"; one a line from --input FILE or stdin) with an NLLB-MoE, NLLB-200 or M2M-100 model',
  builder: (y) =>
    withRevision(withDecoding(adapterOption(withMaxMemory(withWeights(withBackend(y)))), 200))
      .positional('text', { type: 'string', array: true, describe: 'sentences to translate' })
      .option('model', { type: 'string', demandOption: true, describe: 'NLLB-MoE model directory or Hugging Face model id (ORG/NAME, downloaded into the hub cache when missing)' })
      .option('src-lang', { type: 'string', demandOption: true, describe: 'source language code, e.g. eng_Latn (NLLB) or en (M2M-100)' })
      .option('tgt-lang', { type: 'string', demandOption: true, describe: 'target language code, e.g. fra_Latn (NLLB) or fr (M2M-100)' })
      .option('input', { type: 'string', describe: 'file with one sentence a line ("-" = stdin); empty lines stay empty' })
      .option('batch-size', { type: 'number', default: 8, describe: 'sentences per batch' })
      .option('max-input-length', { type: 'number', describe: 'truncate sources to this many tokens' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON record per output' }) as never,
  handler: async (args) => {
    // After `--` yargs leaves words in `_` (after the command name): sentences starting with "-".
    const afterDashes = ((args as { _?: (string | number)[] })._ ?? []).slice(1).map(String);
    const given = [...(args.text ?? []).map(String), ...afterDashes];
    if (given.length > 0 && args.input !== undefined) throw new PolyglotError('translate: give sentences as arguments or --input FILE, not both');
    let lines: string[];
    if (args.input !== undefined) {
      // yargs hands a lone "-" to a string option as ""
      const src = args.input === '-' || args.input === '' ? 0 : args.input;
      if (src !== 0 && !fs.existsSync(src)) throw new PolyglotError(`--input ${args.input}: no such file`);
      const text = fs.readFileSync(src, 'utf8');
      lines = text.split(/\r?\n/);
      if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop(); // final newline
      lines.forEach((l, i) => checkTextLength(l, `--input ${args.input}:${i + 1}`));
    } else if (given.length === 0 && !process.stdin.isTTY) {
      // `echo text | polyglot translate ...`: stdin when nothing else is given
      lines = fs.readFileSync(0, 'utf8').split(/\r?\n/);
      if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    } else {
      lines = given;
    }
    if (lines.length === 0) throw new PolyglotError('translate: nothing to translate (give sentences, --input FILE, or text on stdin; a sentence starting with "-" goes after --)');
    await startBackend(args);
    const { model, tokenizer, generationConfig, format } = await loadTranslator(await modelDirOf(args.model, args), { weights: args.weights, ...maxMemoryOption(args), inference: args.adapter === undefined });
    applyWeights(model, args);
    try {
      if (args.adapter) loadPeftAdapter(model, args.adapter, { hfName: format.weights.hfName });
      // empty lines are echoed as empty lines, not translated
      const todo = lines.map((l, i) => [l, i] as const).filter(([l]) => l.trim() !== '');
      const limit = model.config.maxPositionEmbeddings;
      const longest = Math.max(0, ...todo.map(([l]) => tokenizer.encode(l, { srcLang: args['src-lang'], maxLength: args['max-input-length'] }).length));
      warnPastPositionLimit('a source sentence', longest, limit);
      const t0 = Date.now();
      const progress = progressLine();
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
            : (done, total) => progress.update(done, total, `translated ${done}/${total} sentences (${(done / Math.max((Date.now() - t0) / 1000, 1e-9)).toFixed(2)} sentences/s)`),
        },
      );
      // decoder positions: the start token, then the ids
      warnPastPositionLimit('a translation (with the decoder start token)', 1 + Math.max(0, ...out.map((t) => t.ids.length)), limit);
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
      reportExpertCache(model, args);
    } finally {
      model.dispose();
    }
  },
};
