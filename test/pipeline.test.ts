/** pipeline() (transformers.js shape) and generation_config.json applied by generateText / translate as HF generate() does. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { pipeline } from '../generation/pipeline.js';
import { generateText } from '../generation/generate-text.js';
import { translate } from '../generation/translate.js';
import { loadTextGenerator } from '../generation/load.js';
import { fixturePath, useBackend } from './helpers.js';

test.before(async () => {
  await useBackend('cpu');
});

test('text-generation: [{generated_text}] per prompt, the same text as generateText; dispose frees every weight', async () => {
  const before = tf.memory().numTensors;
  const gen = await pipeline('text-generation', fixturePath('xglm-tiny'));
  const one = await gen('The cat sat', { maxNewTokens: 6 });
  const [ref] = await generateText(gen.model, gen.tokenizer, ['The cat sat'], { maxNewTokens: 6 });
  assert.equal(one, [{ generated_text: ref.text }]);
  // return_full_text: the prompt exactly as given (not its NFKC-normalised decoding), then the continuation
  const [odd] = await gen('ﬁne  day 😀', { maxNewTokens: 3 });
  assert.ok(odd.generated_text.startsWith('ﬁne  day 😀') && odd.generated_text.length > 'ﬁne  day 😀'.length, odd.generated_text);
  const [newOnly] = await gen('ﬁne  day 😀', { maxNewTokens: 3, return_full_text: false });
  assert.is('ﬁne  day 😀' + newOnly.generated_text, odd.generated_text);
  const many = await gen(['The cat sat', 'Hello'], { maxNewTokens: 6, numBeams: 2, numReturnSequences: 2 });
  assert.is(many.length, 2);
  assert.is(many[0].length, 2);
  assert.is(many[0][0].generated_text, (await generateText(gen.model, gen.tokenizer, ['The cat sat', 'Hello'], { maxNewTokens: 6, numBeams: 2, numReturnSequences: 2 }))[0].text);
  gen.dispose();
  assert.is(tf.memory().numTensors, before);
});

test('translation: src_lang / tgt_lang as transformers.js, [{translation_text}] in input order', async () => {
  const tr = await pipeline('translation', fixturePath('nllb-moe-tiny'));
  const out = await tr(['Hello world.', 'Good morning'], { src_lang: 'eng_Latn', tgt_lang: 'fra_Latn', maxNewTokens: 5 });
  const ref = await translate(tr.model, tr.tokenizer, ['Hello world.', 'Good morning'], { srcLang: 'eng_Latn', tgtLang: 'fra_Latn', maxNewTokens: 5 });
  assert.equal(out, ref.map((r) => ({ translation_text: r.text })));
  try {
    await tr('Hello', {});
    assert.unreachable();
  } catch (e) {
    assert.instance(e, PolyglotError);
    assert.match((e as Error).message, /expected options src_lang and tgt_lang/);
  }
  tr.dispose();
});

test('a model of the other task is refused before loading, naming the model_type', async () => {
  try {
    await pipeline('translation', fixturePath('xglm-tiny'));
    assert.unreachable();
  } catch (e) {
    assert.instance(e, PolyglotError);
    assert.match((e as Error).message, /config\.json: field "model_type": expected a translation model, found "xglm" \(XGLM, a text-generation model\)/);
  }
});

test('generateText starts from the model generation_config.json; explicit options win', async () => {
  const g = await loadTextGenerator(fixturePath('xglm-tiny'));
  const run = async (opts: { maxNewTokens?: number; repetitionPenalty?: number }) => (await generateText(g.model, g.tokenizer, ['The cat sat'], opts))[0].newIds;
  const saved = g.model.generationConfig;
  const explicit3 = await run({ maxNewTokens: 3, repetitionPenalty: 3 });
  const explicit7 = await run({ maxNewTokens: 7, repetitionPenalty: 3 });
  g.model.generationConfig = { source: 'test generation_config.json', json: { max_new_tokens: 3, repetition_penalty: 3 } };
  assert.equal(await run({}), explicit3);
  assert.equal(await run({ maxNewTokens: 7 }), explicit7);
  g.model.generationConfig = { source: 'test generation_config.json', json: { max_new_tokens: 'three' } };
  try {
    await run({});
    assert.unreachable();
  } catch (e) {
    assert.instance(e, PolyglotError);
    assert.match((e as Error).message, /^test generation_config\.json: field "max_new_tokens": expected a number/);
  }
  g.model.generationConfig = saved;
  assert.is(explicit3.length, 3);
  g.model.dispose();
});

test.run();
