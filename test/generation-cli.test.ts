/** `polyglot generate` / `polyglot translate` handlers on the fixtures, stdout captured. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateCommand } from '../cli/commands/generate.js';
import { translateCommand } from '../cli/commands/translate.js';
import { generateText } from '../generation/generate-text.js';
import { translate } from '../generation/translate.js';
import { loadTextGenerator, loadTranslator } from '../generation/load.js';
import { PolyglotError } from '../core/errors.js';
import { fixturePath } from './helpers.js';

async function capture(run: () => Promise<void> | void): Promise<string> {
  const orig = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = orig;
  }
  return out;
}

const base = { backend: 'cpu', quiet: true, 'do-sample': false, 'num-beams': 1, 'num-return-sequences': 1, json: false, _: [], $0: 'polyglot' };
type Handler = (a: never) => Promise<void>;

test('generate: one prompt is streamed and equals the library result; a batch prints one line per prompt', async () => {
  const g = await loadTextGenerator(fixturePath('xglm-tiny'));
  const streamed = await capture(() => (generateCommand.handler as Handler)({ ...base, model: fixturePath('xglm-tiny'), prompt: ['The cat sat'], 'max-new-tokens': 9 } as never));
  const [ref] = await generateText(g.model, g.tokenizer, ['The cat sat'], { maxNewTokens: 9 });
  assert.is(streamed, g.tokenizer.decode(ref.ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }) + '\n');
  const batch = await capture(() => (generateCommand.handler as Handler)({ ...base, model: fixturePath('xglm-tiny'), prompt: ['The cat sat', 'Hello'], 'max-new-tokens': 9 } as never));
  const refs = await generateText(g.model, g.tokenizer, ['The cat sat', 'Hello'], { maxNewTokens: 9 });
  assert.is(batch, `[0] ${refs[0].text}\n[1] ${refs[1].text}\n`);
  g.model.dispose();
});

test('translate: --input lines in order, empty lines kept, same text as translate()', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tr-'));
  const file = path.join(dir, 'in.txt');
  fs.writeFileSync(file, 'Hello world.\n\nThe cat sleeps.\nGood morning\n');
  const out = await capture(() =>
    (translateCommand.handler as Handler)({ ...base, model: fixturePath('nllb-moe-tiny'), 'src-lang': 'eng_Latn', 'tgt-lang': 'fra_Latn', input: file, 'batch-size': 2, 'max-new-tokens': 6 } as never),
  );
  const t = await loadTranslator(fixturePath('nllb-moe-tiny'));
  const ref = await translate(t.model, t.tokenizer, ['Hello world.', 'The cat sleeps.', 'Good morning'], { srcLang: 'eng_Latn', tgtLang: 'fra_Latn', batchSize: 2, maxNewTokens: 6 });
  t.model.dispose();
  assert.is(out, `${ref[0].text}\n\n${ref[1].text}\n${ref[2].text}\n`);
  try {
    await (translateCommand.handler as Handler)({ ...base, model: fixturePath('nllb-moe-tiny'), 'src-lang': 'eng_Latn', 'tgt-lang': 'fra_Latn', text: ['x'], input: file, 'batch-size': 2 } as never);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, PolyglotError);
    assert.match((e as Error).message, /not both/);
  }
});

test.run();
