/** `polyglot generate` / `polyglot translate` handlers on the fixtures, stdout captured. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateCommand } from '../cli/commands/generate.js';
import { translateCommand } from '../cli/commands/translate.js';
import { continuationText, generateText } from '../generation/generate-text.js';
import { runCli as runRealCli } from './cli-run.js';
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
  assert.is(streamed, 'The cat sat' + continuationText(g.tokenizer, ref.ids.slice(0, -ref.newIds.length), ref.newIds, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }) + '\n');
  const batch = await capture(() => (generateCommand.handler as Handler)({ ...base, model: fixturePath('xglm-tiny'), prompt: ['The cat sat', 'Hello'], 'max-new-tokens': 9 } as never));
  const refs = await generateText(g.model, g.tokenizer, ['The cat sat', 'Hello'], { maxNewTokens: 9 });
  assert.is(batch, `[0] ${refs[0].text}\n[1] ${refs[1].text}\n`);
  g.model.dispose();
});

test('generate (real CLI): the prompt comes back exactly as typed, followed by the continuation HF pipeline decodes', async () => {
  // emoji the vocabulary lacks (<unk>, dropped when decoded), a skin-tone modifier, an NFKC ligature, a double space
  const prompts = ['😀👍🏽 emoji', 'ﬁne  day'];
  const g = await loadTextGenerator(fixturePath('xglm-tiny'));
  const refs = await generateText(g.model, g.tokenizer, prompts, { maxNewTokens: 5 });
  g.model.dispose();
  for (const r of refs) assert.ok(r.text.startsWith(prompts[r.prompt]) && r.completion.length > 0);
  const model = fixturePath('xglm-tiny');
  const streamed = runRealCli(['generate', '--model', model, '--prompt', prompts[0], '--max-new-tokens', '5', '--quiet']);
  assert.is(streamed.status, 0, streamed.stderr);
  assert.is(streamed.stdout, `${prompts[0]}${refs[0].completion}\n`);
  const batch = runRealCli(['generate', '--model', model, '--prompt', prompts[0], '--prompt', prompts[1], '--max-new-tokens', '5', '--quiet']);
  assert.is(batch.stdout, `[0] ${prompts[0]}${refs[0].completion}\n[1] ${prompts[1]}${refs[1].completion}\n`);
  const json = runRealCli(['generate', '--model', model, '--prompt', prompts[0], '--max-new-tokens', '5', '--json', '--quiet']);
  const record = JSON.parse(json.stdout) as { text: string; completion: string };
  assert.is(record.text, prompts[0] + refs[0].completion);
  assert.is(record.completion, refs[0].completion);
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
