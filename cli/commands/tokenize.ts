import type { CommandModule } from 'yargs';
import { acceptBackend } from '../common.js';
import { loadPretrainedTokenizer, PolyglotError } from '../../index.js';
import { modelDirOf, withRevision, type ModelSourceArgs } from '../model-source.js';

interface Args extends ModelSourceArgs {
  text: string;
  model: string;
  'src-lang'?: string;
  'tgt-lang'?: string;
  target: boolean;
  pair?: string;
  special: boolean;
  json: boolean;
}

export const tokenizeCommand: CommandModule<object, Args> = {
  command: 'tokenize <text>',
  describe: 'print the token ids and tokens of a text (the HF slow tokenizer of the model directory)',
  builder: (y) =>
    withRevision(acceptBackend(y))
      .positional('text', { type: 'string', demandOption: true, describe: 'text to tokenize' })
      .option('model', { type: 'string', demandOption: true, describe: 'model directory (sentencepiece.bpe.model + tokenizer_config.json) or hub model id ORG/NAME' })
      .option('src-lang', { type: 'string', describe: 'NLLB / M2M-100 source language code (default: tokenizer_config.json src_lang, else eng_Latn / en)' })
      .option('tgt-lang', { type: 'string', describe: 'NLLB / M2M-100 target language code (with --target)' })
      .option('target', { type: 'boolean', default: false, describe: 'NLLB / M2M-100: encode as a target text (text_target: tgt_lang code)' })
      .option('pair', { type: 'string', describe: 'second text of a pair (text_pair)' })
      .option('special', { type: 'boolean', default: true, describe: 'add special tokens (--no-special: add_special_tokens=False)' })
      .option('json', { type: 'boolean', default: false, describe: 'print {"input_ids", "tokens", "pieces"} as JSON' }) as never,
  handler: async (args) => {
    const tok = await loadPretrainedTokenizer(await modelDirOf(args.model, args), { srcLang: args['src-lang'], tgtLang: args['tgt-lang'] });
    if (tok.kind === 'xglm' && (args['src-lang'] || args['tgt-lang'] || args.target)) {
      throw new PolyglotError(`--src-lang / --tgt-lang / --target: only for NLLB / M2M-100 tokenizers, ${args.model} has an XGLM tokenizer`);
    }
    const ids = tok.encode(args.text, { textPair: args.pair, addSpecialTokens: args.special, asTarget: args.target });
    const tokens = tok.convertIdsToTokens(ids);
    if (args.json) {
      process.stdout.write(JSON.stringify({ input_ids: ids, tokens, pieces: tok.tokenize(args.text), decoded: tok.decode(ids) }) + '\n');
    } else {
      process.stdout.write(`ids:    ${ids.join(' ')}\n`);
      process.stdout.write(`tokens: ${tokens.join(' ')}\n`);
      process.stdout.write(`count:  ${ids.length}\n`);
    }
  },
};
