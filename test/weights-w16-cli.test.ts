/**
 * The CLI with `--weights bfloat16|float16` (README "Precision"): a bf16 checkpoint written by
 * `polyglot convert --dtype bfloat16` generates exactly what the float32 one does with
 * `--weights bfloat16` (the bf16 file holds the same rounded values, now read as stored), and
 * says what the weights are; `verify --weights bfloat16` reports the measured error of every
 * case; `eval --weights int8` quantizes while loading (no float32 Linear kernel on the heap).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tf } from '../core/tf.js';
import { fixturePath, useBackend } from './helpers.js';
import { runCli } from './cli-run.js';
import { loadModel } from '../train/load-model.js';
import { precisionReportOf } from '../layers/weight-precision.js';
import { nativeAddon } from '../backend/native.js';
import { storedPrecision } from '../models/pretrained.js';
import { Int8AwareSource } from '../convert/quantized-source.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-w16-cli-'));

test('CLI: convert --dtype bfloat16, then generate --weights bfloat16 = the float32 checkpoint with --weights bfloat16; native bytes reported', () => {
  const out = path.join(root, 'xglm-bf16');
  const c = runCli(['convert', fixturePath('xglm-tiny'), '--out', out, '--dtype', 'bfloat16'], 120_000);
  assert.is(c.status, 0, c.stderr);
  const gen = (model: string, extra: string[]) => runCli(['generate', '--model', model, '--prompt', 'Hello world', '--max-new-tokens', '6', '--json', ...extra], 120_000);
  const a = gen(fixturePath('xglm-tiny'), ['--weights', 'bfloat16']);
  const b = gen(out, ['--weights', 'bfloat16']);
  assert.is(a.status, 0, a.stderr);
  assert.is(b.status, 0, b.stderr);
  assert.is(b.stdout, a.stdout);
  assert.ok(JSON.parse(a.stdout.trim().split('\n').pop()!) !== undefined);
  // runCli uses the cpu backend: no native kernels there (the wasm path is weights-w16.test.ts).
  assert.match(b.stderr, /weights: bfloat16 \(35 tensors, native kernels absent: float32 products of the rounded weights\)/);
  // --weights auto: the checkpoint's own precision (torch_dtype="auto"): bf16 here, float32 for the fixture.
  const auto = gen(out, ['--weights', 'auto']);
  assert.is(auto.status, 0, auto.stderr);
  assert.is(auto.stdout, a.stdout);
  assert.match(auto.stderr, /weights: bfloat16 \(35 tensors/);
  const autoF32 = gen(fixturePath('xglm-tiny'), ['--weights', 'auto']);
  assert.is(autoF32.stdout, gen(fixturePath('xglm-tiny'), []).stdout);
  assert.not.match(autoF32.stderr, /weights: /);
});

test('storedPrecision: int8, bf16, f16 and float32 checkpoints', () => {
  const f16 = path.join(root, 'xglm-f16');
  assert.is(runCli(['convert', fixturePath('xglm-tiny'), '--out', f16, '--dtype', 'float16'], 120_000).status, 0);
  const q8 = path.join(root, 'xglm-q8');
  assert.is(runCli(['quantize', fixturePath('xglm-tiny'), '--out', q8, '--dtype', 'int8'], 120_000).status, 0);
  const of = (dir: string) => storedPrecision(new Int8AwareSource(openCheckpoint(dir).tensors, dir));
  assert.is(of(fixturePath('xglm-tiny')), 'float32');
  assert.is(of(fixturePath('xglm-tiny-bin')), 'float32');
  assert.is(of(path.join(root, 'xglm-bf16')), 'bfloat16');
  assert.is(of(f16), 'float16');
  assert.is(of(q8), 'int8');
});

test('CLI: verify --weights bfloat16 reports the measured error of each case; greedy generation still exact', () => {
  const r = runCli(['verify', fixturePath('xglm-tiny'), '--weights', 'bfloat16'], 180_000);
  assert.match(r.stdout, /xglm-tiny\s+forward_right_padded\s+forward\s+[0-9.]+e-2/);
  assert.match(r.stdout, /generate_greedy_left_padded\s+generate_greedy\s+0\.00e\+0\s+exact match required\s+pass/);
});

test('eval --weights int8 quantizes while loading: no float32 Linear kernel is ever a parameter', async () => {
  await useBackend('wasm');
  const bytes0 = tf.memory().numBytes;
  const f32 = loadModel(fixturePath('xglm-tiny'));
  const floatBytes = tf.memory().numBytes - bytes0;
  f32.model.dispose();
  const bytes1 = tf.memory().numBytes;
  const q = loadModel(fixturePath('xglm-tiny'), { weights: 'int8' });
  const heap = tf.memory().numBytes - bytes1;
  assert.is(precisionReportOf(q.model).precision, 'int8');
  assert.not.ok(q.model.namedParameters().some((p) => /(q_proj|fc1)\.weight$/.test(p.name)), 'no float32 linear kernels');
  if (nativeAddon() !== undefined) assert.is(floatBytes - heap, 4 * 2 * (4 * 64 * 64 + 2 * 64 * 128), 'the heap never held the Linear weights');
  q.model.dispose();
  const data = path.join(root, 'dev.txt');
  fs.writeFileSync(data, 'Hello world, this is a test.\nAnother line of text here.\n');
  const r = runCli(['eval', '--model', fixturePath('xglm-tiny'), '--data', data, '--batch-size', '2', '--weights', 'int8'], 120_000);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /weights: int8 \(13 tensors, native kernels absent/, r.stderr);
  assert.match(r.stdout, /loss/);
});

test.after(() => fs.rmSync(root, { recursive: true, force: true }));

test.run();
