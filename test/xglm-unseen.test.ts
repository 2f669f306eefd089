/**
 * XGLM configurations beyond the shared xglm-tiny fixtures, each checked against Hugging Face.
 *
 * test/fixtures/xglm-* are random tiny checkpoints whose reference numbers come from HF
 * transformers' 4.41-era modeling_xglm.py (+ modeling_attn_mask_utils, activations) run under
 * torch 1.13 in float64 from the stored (upcast) weights, stored as float32;
 * rtol = atol = max(1e-5, 20 x float32-vs-float64 discrepancy); loss / grad use the
 * transformers >= 4.46 causal-LM loss; greedy prompts were chosen with top-1/top-2 gaps >= 0.01.
 *
 * | fixture | what it exercises |
 * | --- | --- |
 * | xglm-relu-odd-sharded | relu, d_model 45 (odd: zero sinusoid column), 5 heads of 9, 3 safetensors shards + index |
 * | xglm-shortpos-binsharded | max_position_embeddings 16 with 24-token inputs and 22-token generations (table growth), 8 heads of 5, layerdrop 0.1 in config, 3 pytorch_model-*.bin shards |
 * | xglm-silu-bf16 | silu, 1 head of 32, bf16 safetensors |
 * | xglm-pad3-bin | gelu_new, no embedding scaling, pad_token_id 3 (zeroes sinusoid row 3 = position 1), eos 5, d_model 46, single pytorch_model.bin with tied lm_head |
 * | xglm-fp16-headdim3 | gelu_new, d_model 21 (odd), 7 heads of 3, fp16 safetensors |
 * | xglm-bf16-binsharded-headdim1 | relu, no scaling, 12 heads of 1, bf16 pytorch_model-*.bin shards |
 * | xglm-untied | tie_word_embeddings false: lm_head.weight is its own parameter (gradient and AdamW step too) |
 * | xglm-genconfig | greedy case only: generation_config.json sets repetition_penalty 1.5 and no_repeat_ngram_size 2, which HF generate() applies although the case params omit them |
 *
 * Three fixtures add cases the shared fixtures lack: loss and grad with generation
 * position_ids on a left-padded batch (fully masked query rows carry gradient: HF float64
 * passes the full gradient through its finfo.min clamp), incremental decoding of a
 * left-padded batch with and without position_ids, a forward without attention_mask, a
 * train-mode forward with every dropout 0, and greedy decoding with a list of eos ids.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { verifyFixture } from '../verify/verify.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { useBackend, projectFixturePath } from './helpers.js';

await useBackend('cpu');

const fixture = projectFixturePath;

const BASE = ['forward_right_padded', 'forward_left_padded_generation_positions', 'forward_left_padded_default_positions', 'incremental_kv_cache', 'generate_greedy_left_padded', 'loss_right_padded', 'grad_train_no_dropout', 'adamw_step'];
const EXTRA = ['loss_left_padded_positions', 'grad_left_padded_positions', 'forward_no_mask', 'forward_train_no_dropout', 'incremental_left_padded', 'incremental_left_padded_positions', 'generate_greedy_eos_list'];

const FIXTURES: Record<string, string[]> = {
  'xglm-relu-odd-sharded': [...BASE, ...EXTRA],
  'xglm-shortpos-binsharded': [...BASE, ...EXTRA],
  'xglm-silu-bf16': BASE,
  'xglm-pad3-bin': [...BASE, ...EXTRA],
  'xglm-fp16-headdim3': BASE,
  'xglm-bf16-binsharded-headdim1': BASE,
  'xglm-untied': BASE,
  'xglm-genconfig': ['generate_greedy_left_padded'],
};

for (const [name, expected] of Object.entries(FIXTURES)) {
  test(`${name}: every HF reference case passes on cpu`, async () => {
    const before = tf.memory().numTensors;
    const results = await verifyFixture(fixture(name));
    assert.equal(results.map((r) => r.case), expected);
    for (const r of results) {
      assert.is(r.status, 'pass', `${r.case}: ${r.message ?? ''} (max abs ${r.maxAbsError}, atol ${r.atol})`);
      if (r.kind === 'generate_greedy') assert.is(r.maxAbsError, 0, `${r.case}: greedy ids exact`);
    }
    assert.is(tf.memory().numTensors, before, 'no leaked tensors');
  });
}

test('xglm-shortpos-binsharded really runs past max_position_embeddings', () => {
  const dir = fixture('xglm-shortpos-binsharded');
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { max_position_embeddings: number };
  const refs = SafetensorsFile.open(path.join(dir, 'reference', 'tensors.safetensors'));
  // HF's table starts with max_position_embeddings + 2 rows; these inputs need more.
  assert.ok(refs.info('forward_right_padded/input_ids').shape[1] > cfg.max_position_embeddings + 2);
  assert.ok(refs.info('generate_greedy_left_padded/sequences').shape[1] > cfg.max_position_embeddings + 2);
});

test('stored dtypes are the ones the fixture names claim (bf16 / fp16 weights)', () => {
  const st = (name: string, file: string) => SafetensorsFile.open(path.join(fixture(name), file)).info('model.embed_tokens.weight').dtype;
  assert.is(st('xglm-silu-bf16', 'model.safetensors'), 'BF16');
  assert.is(st('xglm-fp16-headdim3', 'model.safetensors'), 'F16');
});

test('xglm-untied: lm_head.weight is checked as its own parameter', async () => {
  const cases = JSON.parse(fs.readFileSync(path.join(fixture('xglm-untied'), 'reference', 'cases.json'), 'utf8')) as { cases: { name: string; expect: Record<string, string> }[] };
  const grad = cases.cases.find((c) => c.name === 'grad_train_no_dropout')!;
  assert.ok('grad/lm_head.weight' in grad.expect && 'grad/model.embed_tokens.weight' in grad.expect);
});

test.run();
