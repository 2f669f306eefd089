/** Translation on the real NLLB-MoE fixture: HF greedy sequences, translate() batching, tensor hygiene. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { tf } from '../core/tf.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { generate } from '../generation/generate.js';
import { translate } from '../generation/translate.js';
import { loadTranslator, type Translator } from '../generation/load.js';
import { NllbMoeSession } from '../models/nllb-moe/session.js';
import { fixturePath, useBackend } from './helpers.js';

let tr: Translator;
let c: { inputs: Record<string, string>; expect: Record<string, string>; params: Record<string, number> };

function rows(data: ArrayLike<number | bigint>, shape: number[]): number[][] {
  const [b, t] = shape;
  return Array.from({ length: b }, (_, i) => Array.from({ length: t }, (_, j) => Number(data[i * t + j])));
}

test.before(async () => {
  await useBackend('cpu');
  tr = await loadTranslator(fixturePath('nllb-moe-tiny'));
  const cases = JSON.parse(fs.readFileSync(fixturePath('nllb-moe-tiny', 'reference', 'cases.json'), 'utf8')) as { cases: (typeof c & { name: string })[] };
  c = cases.cases.find((x) => x.name === 'generate_greedy')!;
});

test('greedy generation reproduces the fixture generate_greedy sequences exactly (decoder start 2, forced BOS)', async () => {
  const ref = SafetensorsFile.open(fixturePath('nllb-moe-tiny', 'reference', 'tensors.safetensors'));
  const ids = ref.read(c.inputs.input_ids);
  const mask = ref.read(c.inputs.attention_mask);
  const want = ref.read(c.expect.sequences);
  const idsT = tf.tensor2d(rows(ids.data as ArrayLike<number | bigint>, ids.shape), undefined, 'int32');
  const maskT = tf.tensor2d(rows(mask.data as ArrayLike<number | bigint>, mask.shape), undefined, 'int32');
  const before = tf.memory().numTensors;
  const s = new NllbMoeSession(tr.model, idsT, maskT);
  const B = ids.shape[0];
  const r = await generate(s, { inputIds: Array.from({ length: B }, () => [c.params.decoder_start_token_id]) }, {
    maxNewTokens: c.params.max_new_tokens,
    forcedBosTokenId: c.params.forced_bos_token_id,
    eosTokenId: c.params.eos_token_id,
    padTokenId: c.params.pad_token_id,
  });
  s.dispose();
  assert.is(tf.memory().numTensors, before);
  idsT.dispose();
  maskT.dispose();
  assert.equal(r.sequences, rows(want.data as ArrayLike<number | bigint>, want.shape));
  assert.ok(r.sequences.every((row) => row[0] === 2 && row[1] === 1057));
});

test('translate: batched equals one by one, input order kept, target language forced, specials skipped', async () => {
  const src = ['Hello world.', 'The small cat sleeps on the warm mat today.', 'Good morning', 'Yes'];
  const before = tf.memory().numTensors;
  const progress: string[] = [];
  const batched = await translate(tr.model, tr.tokenizer, src, { srcLang: 'eng_Latn', tgtLang: 'fra_Latn', batchSize: 3, maxNewTokens: 8, onProgress: (d, t) => progress.push(`${d}/${t}`) });
  assert.equal(progress, ['3/4', '4/4']);
  assert.equal(batched.map((t) => t.source), [0, 1, 2, 3]);
  for (let i = 0; i < src.length; i++) {
    const [one] = await translate(tr.model, tr.tokenizer, [src[i]], { srcLang: 'eng_Latn', tgtLang: 'fra_Latn', maxNewTokens: 8 });
    assert.equal(batched[i].ids, one.ids, `sentence ${i}`);
    assert.is(batched[i].text, one.text);
    assert.is(batched[i].ids[0], 1057);
    assert.ok(!batched[i].text.includes('fra_Latn') && !batched[i].text.includes('</s>'));
  }
  const de = await translate(tr.model, tr.tokenizer, src.slice(0, 1), { srcLang: 'eng_Latn', tgtLang: 'deu_Latn', maxNewTokens: 3 });
  assert.is(de[0].ids[0], tr.tokenizer.langCodeId('deu_Latn'));
  const beams = await translate(tr.model, tr.tokenizer, src.slice(0, 2), { srcLang: 'eng_Latn', tgtLang: 'fra_Latn', maxNewTokens: 6, numBeams: 3, numReturnSequences: 2 });
  assert.equal(beams.map((b) => b.source), [0, 0, 1, 1]);
  assert.ok(beams.every((b) => b.ids[0] === 1057));
  assert.is(tf.memory().numTensors, before);
  try {
    await translate(tr.model, tr.tokenizer, src, { srcLang: 'eng_Latn', tgtLang: 'xxx_Latn' });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /unknown NLLB language code "xxx_Latn"/);
  }
});

test.after(() => {
  tr.model.dispose();
});

test.run();
