/**
 * NLLB-MoE configurations beyond the shared nllb-moe-tiny fixture, each checked against Hugging Face.
 *
 * The fixtures under test/fixtures/nllb-moe-* are random tiny checkpoints whose reference
 * numbers come from HF transformers' modeling_nllb_moe.py (commit 00b676f8) run as-is under
 * torch 1.13 in float64 (router classifier + softmax in float32, as HF casts them to
 * router_dtype), stored as float32; rtol = atol = max(1e-5, 20 x float32-vs-float64 spread).
 * Inputs were searched so that float32 vs float64 cannot flip a routing decision (top-1/top-2
 * logit gaps >= 1e-3, batch-priority max-probability gaps >= 1e-4, same routing in both runs).
 * Cases: forward (config eval capacity) and forward_capacity_drop (fraction 0.25) with router
 * combine weights / top-1 indices of every sparse layer, HF loss, grad, grad_embedding,
 * adamw_step, loss_standard / grad_standard, generate_greedy (KV cache, per-step capacity; inputs
 * chosen so the output has an EOS, >= 3 distinct tokens and, where the config can drop, depends
 * on the per-step capacity).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { verifyFixture } from '../verify/verify.js';
import { useBackend, projectFixturePath } from './helpers.js';

await useBackend('cpu');

const fixture = projectFixturePath;

const CASES = ['forward', 'forward_capacity_drop', 'loss', 'grad', 'grad_embedding', 'adamw_step', 'loss_standard', 'grad_standard', 'generate_greedy'];

interface Variant {
  dir: string;
  /** config.json fields the variant is about (guards against a mislabelled fixture). */
  config: Record<string, unknown>;
  /** Weight files the variant must load from. */
  files: string[];
  /** Case names when not the full set. */
  cases?: string[];
}

const VARIANTS: Variant[] = [
  {
    // every layer sparse, 8 experts, tight capacity, batch-prioritized, normalised before dropping,
    // padding routed, gelu, no embedding scale, router bias; bf16 safetensors.
    dir: 'nllb-moe-all-sparse-bf16',
    config: { encoder_sparse_step: 1, decoder_sparse_step: 1, num_experts: 8, expert_capacity: 4, batch_prioritized_routing: true, normalize_router_prob_before_dropping: true, router_ignore_padding_tokens: true, activation_function: 'gelu', scale_embedding: false, router_bias: true },
    files: ['model.safetensors'],
  },
  {
    // gelu_new, odd d_model 45 (5 / 3 heads of 9 / 15; odd sinusoidal width), 3 encoder layers with
    // sparse step 3, padding NOT routed, normalised before dropping; f16 sharded safetensors.
    dir: 'nllb-moe-gelunew-f16',
    config: { d_model: 45, encoder_attention_heads: 5, decoder_attention_heads: 3, encoder_sparse_step: 3, activation_function: 'gelu_new', router_ignore_padding_tokens: false, normalize_router_prob_before_dropping: true },
    files: ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json'],
  },
  {
    // expert_capacity null (training 2 * ceil(N / E)), eval fraction 0 (eval uses that rule too),
    // dense encoder, 3 sparse decoder layers, position table shorter than the rows; f16 sharded
    // pytorch_model-*.bin with the tied aliases sharing one storage.
    dir: 'nllb-moe-capnull-f16bin',
    config: { expert_capacity: null, moe_eval_capacity_token_fraction: 0, encoder_sparse_step: 0, decoder_sparse_step: 1, max_position_embeddings: 6 },
    files: ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin', 'pytorch_model.bin.index.json'],
  },
  {
    // 32 experts, capacity 2, d_model 16 with 16 encoder heads (head_dim 1) and 1 decoder head, silu;
    // a single bf16 pytorch_model.bin (tied aliases sharing one storage).
    dir: 'nllb-moe-e32-bf16bin',
    config: { num_experts: 32, expert_capacity: 2, d_model: 16, encoder_attention_heads: 16, decoder_attention_heads: 1, activation_function: 'silu', batch_prioritized_routing: true },
    files: ['pytorch_model.bin'],
  },
  {
    // One expert: HF's 2nd choice is expert 0 again (argmax of an all -inf row); it takes a slot
    // after all top-1s (eval fraction 1.5, training capacity 64 let it survive) and its gate adds
    // to the same column; normalised before dropping (gates 0.5 + 0.5).
    dir: 'nllb-moe-one-expert',
    config: { num_experts: 1, expert_capacity: 64, moe_eval_capacity_token_fraction: 1.5, normalize_router_prob_before_dropping: true },
    files: ['model.safetensors'],
  },
  {
    // generate_greedy whose case names only forced_bos_token_id: max_length 11, repetition_penalty 1.5
    // and no_repeat_ngram_size 2 come from generation_config.json, as HF generate() reads them.
    dir: 'nllb-moe-genconfig',
    config: { batch_prioritized_routing: true },
    files: ['model.safetensors', 'generation_config.json'],
    cases: ['forward', 'generate_greedy'],
  },
  {
    // tie_word_embeddings false: lm_head.weight is its own parameter (logits, its gradient, the
    // shared embedding's gradient without the head part); encoder / decoder embeddings stay shared.
    dir: 'nllb-moe-untied',
    config: { tie_word_embeddings: false },
    files: ['model.safetensors'],
  },
];

for (const v of VARIANTS) {
  test(`${v.dir}: every case matches HF`, async () => {
    const dir = fixture(v.dir);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const [k, want] of Object.entries(v.config)) assert.equal(config[k], want, `${v.dir}/config.json ${k}`);
    for (const f of v.files) assert.ok(fs.existsSync(path.join(dir, f)), `${v.dir}: ${f}`);
    const before = tf.memory().numTensors;
    const results = await verifyFixture(dir);
    assert.equal(results.map((r) => r.case), v.cases ?? CASES);
    for (const r of results) assert.is(r.status, 'pass', `${v.dir} ${r.case}: ${r.message ?? ''} (max abs ${r.maxAbsError}, tol ${r.atol})`);
    assert.is(tf.memory().numTensors, before, 'no leaked tensors');
  });
}

// The fixture discriminates: each routing flag, flipped in config.json, breaks the capacity-drop
// forward; a capacity that never drops (fraction 1) changes the greedy tokens.
const MUTATIONS: [string, boolean | number, RegExp][] = [
  ['batch_prioritized_routing', false, /^forward_capacity_drop$/],
  ['normalize_router_prob_before_dropping', false, /^forward_capacity_drop$/],
  ['router_ignore_padding_tokens', false, /^forward_capacity_drop$/],
  ['moe_eval_capacity_token_fraction', 1, /^generate_greedy$/],
];
for (const [key, value, only] of MUTATIONS) {
  test(`nllb-moe-all-sparse-bf16 with ${key}=${value}: ${only.source} no longer matches`, async () => {
    const src = fixture('nllb-moe-all-sparse-bf16');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nllb-unseen-'));
    try {
      fs.cpSync(src, tmp, { recursive: true });
      const cfgPath = path.join(tmp, 'config.json');
      const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
      cfg[key] = value;
      fs.writeFileSync(cfgPath, JSON.stringify(cfg));
      const results = await verifyFixture(tmp, { filter: only });
      assert.is(results.length, 1);
      assert.is(results[0].status, 'fail');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
}

test('nllb-moe-genconfig without its generation_config.json: generate_greedy no longer matches (HF reads that file)', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nllb-unseen-'));
  try {
    fs.cpSync(fixture('nllb-moe-genconfig'), tmp, { recursive: true });
    fs.rmSync(path.join(tmp, 'generation_config.json'));
    const results = await verifyFixture(tmp, { filter: /^generate_greedy$/ });
    assert.is(results.length, 1);
    assert.is(results[0].status, 'fail');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test.run();
