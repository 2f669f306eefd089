/**
 * `polyglot train` as a user meets it: runs that must not lose work (bad data found before
 * step 1, signals save and exit 130 / 143, resume past the end explained), outputs never
 * replaced without --force (--out, --export-dir), one run per folder (lock), stale checkpoint
 * temporaries cleaned, and one metrics history after a resume (issues 9 and 10).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCli, cliFinished, runCli, signalAfterLines } from './cli-process.js';
import { initModelDir } from '../train/init-model.js';
import { syntheticPairs } from '../train/demo/synthetic-task.js';
import { listCheckpoints } from '../checkpoints/training-checkpoint.js';
import { LOCK_FILE } from '../train/run-folder.js';

const start = (args: string[]) => startCli(args);
const finished = cliFinished;
const run = (args: string[]) => runCli(args);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'train-cli-'));
const pairs = syntheticPairs(120, 3);
const texts = pairs.flatMap((p) => [p.src, p.tgt]);
const xglm = path.join(tmp, 'xglm');
initModelDir(xglm, { arch: 'xglm', config: { d_model: 16, num_layers: 1, attention_heads: 2, ffn_dim: 32, max_position_embeddings: 64 }, tokenizerTexts: texts, seed: 2 });
const textData = path.join(tmp, 'train.txt');
fs.writeFileSync(textData, texts.join('\n') + '\n');
const base = (out: string, steps = 6) => ['train', '--model', xglm, '--data', textData, '--out', out, '--max-steps', String(steps), '--batch-size', '4', '--max-length', '16', '--eval-every', '0', '--backend', 'wasm', '--no-progress'];
const metrics = (out: string) => fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number });
const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

test('a bad JSONL line in the middle is named before step 1; nothing is trained or written', async () => {
  const file = path.join(tmp, 'docs.jsonl');
  const lines = texts.slice(0, 60).map((t) => JSON.stringify({ text: t }));
  lines[40] = '{"text": "unterminated';
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const out = path.join(tmp, 'bad-data');
  const r = await run([...base(out).filter((a, i, all) => all[i - 1] !== '--data' && a !== '--data'), '--data', file]);
  assert.is(r.code, 1);
  assert.match(lastLine(r.stderr), new RegExp(`^polyglot: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:41: expected a JSON object, found invalid JSON`));
  assert.not.ok(fs.existsSync(path.join(out, 'metrics.jsonl')), 'no step ran');
});

test('an existing --out is refused without --resume or --force; --force starts over', async () => {
  const out = path.join(tmp, 'twice');
  assert.is((await run(base(out, 3))).code, 0);
  const again = await run(base(out, 3));
  assert.is(again.code, 1);
  assert.match(lastLine(again.stderr), /--out .*twice: the folder is not empty .*--resume .* continues its run, --force starts over/);
  const forced = await run([...base(out, 2), '--force']);
  assert.is(forced.code, 0, forced.stderr);
  assert.equal(listCheckpoints(path.join(out, 'checkpoints')).map((c) => c.step), [2], 'the old run\'s checkpoints are gone');
  assert.equal(metrics(out).filter((r) => r.type === 'train').map((r) => r.step), [1, 2]);
});

test('resuming a checkpoint at --max-steps says so instead of printing a NaN summary', async () => {
  const out = path.join(tmp, 'done');
  assert.is((await run(base(out, 3))).code, 0);
  const r = await run([...base(out, 3), '--resume', out]);
  assert.is(r.code, 1);
  assert.match(lastLine(r.stderr), /checkpoint is at step 3 and --max-steps is 3, so nothing is left to train \(raise --max-steps/);
  assert.not.match(r.stdout, /NaN/);
});

test('after a resume, metrics.jsonl holds one history (no step twice)', async () => {
  const out = path.join(tmp, 'history');
  assert.is((await run([...base(out, 6), '--save-every', '3'])).code, 0);
  // as if killed after logging steps 4-6 but before their checkpoint
  fs.rmSync(listCheckpoints(path.join(out, 'checkpoints')).pop()!.dir, { recursive: true });
  const r = await run([...base(out, 6), '--save-every', '3', '--resume', out]);
  assert.is(r.code, 0, r.stderr);
  const steps = metrics(out).filter((x) => x.type === 'train').map((x) => x.step);
  assert.equal(steps, [1, 2, 3, 4, 5, 6]);
  assert.is(metrics(out).filter((x) => x.type === 'resume').length, 1);
});

test('--export-dir: never the --model folder or inside it; an existing folder only with --force', async () => {
  const before = fs.readdirSync(xglm).sort();
  const same = await run([...base(path.join(tmp, 'exp1'), 1), '--export-dir', xglm]);
  assert.is(same.code, 1);
  assert.match(lastLine(same.stderr), /--export-dir .*: is the --model folder .* would replace the source/);
  const inside = await run([...base(path.join(tmp, 'exp2'), 1), '--export-dir', path.join(xglm, 'sub')]);
  assert.is(inside.code, 1);
  assert.equal(fs.readdirSync(xglm).sort(), before, 'source untouched');
  const existing = path.join(tmp, 'existing-export');
  fs.mkdirSync(existing);
  fs.writeFileSync(path.join(existing, 'keep.txt'), 'mine');
  const refused = await run([...base(path.join(tmp, 'exp3'), 1), '--export-dir', existing]);
  assert.is(refused.code, 1);
  assert.match(lastLine(refused.stderr), /--export-dir .*existing-export: the folder exists and is not empty: --force replaces it/);
  assert.is(fs.readFileSync(path.join(existing, 'keep.txt'), 'utf8'), 'mine');
  const refusedEarly = fs.existsSync(path.join(tmp, 'exp3', 'metrics.jsonl'));
  assert.not.ok(refusedEarly, 'refused before training');
});

test('one run per --out: a live lock refuses, a stale one (dead PID) is taken over and released at exit', async () => {
  const out = path.join(tmp, 'locked');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, LOCK_FILE), JSON.stringify({ pid: process.pid }));
  const r = await run(base(out, 1));
  assert.is(r.code, 1);
  assert.match(lastLine(r.stderr), new RegExp(`another polyglot train \\(PID ${process.pid}\\) is writing into this folder`));
  // a PID that is not running (beyond the default pid_max of 4194304)
  fs.writeFileSync(path.join(out, LOCK_FILE), JSON.stringify({ pid: 4194309 }));
  const ok = await run([...base(out, 1), '--force']);
  assert.is(ok.code, 0, ok.stderr);
  assert.not.ok(fs.existsSync(path.join(out, LOCK_FILE)), 'released on exit');
});

test('checkpoint temporaries of dead writers are removed when a run starts', async () => {
  const out = path.join(tmp, 'temps');
  assert.is((await run(base(out, 2))).code, 0);
  const root = path.join(out, 'checkpoints');
  const dead = path.join(root, '.checkpoint-0000005.tmp-4194309');
  fs.mkdirSync(dead);
  fs.writeFileSync(path.join(dead, 'weights.safetensors'), 'partial');
  const alive = path.join(root, `.checkpoint-0000005.tmp-${process.pid}`);
  fs.mkdirSync(alive);
  const r = await run([...base(out, 3), '--resume', out]);
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(fs.existsSync(dead), 'dead writer\'s temporary removed');
  assert.ok(fs.existsSync(alive), 'a live writer\'s temporary is left alone');
  fs.rmSync(alive, { recursive: true });
});

test('SIGTERM saves a checkpoint of the last step, says how to resume and exits 143', async () => {
  const out = path.join(tmp, 'sigterm');
  const child = start(base(out, 100000));
  const done = finished(child);
  const file = path.join(out, 'metrics.jsonl');
  await signalAfterLines(child, file, 4, 'SIGTERM');
  const r = await done;
  assert.is(r.code, 143, r.stderr);
  assert.match(r.stderr, /SIGTERM: saving a checkpoint/);
  assert.match(r.stderr, /continue: the same command with --resume /);
  const trained = metrics(out).filter((l) => l.type === 'train');
  const cks = listCheckpoints(path.join(out, 'checkpoints'));
  assert.is(cks[cks.length - 1].step, trained[trained.length - 1].step);
  assert.not.ok(fs.existsSync(path.join(out, LOCK_FILE)), 'lock released');
});

test('translation without --eval-data: languages default to the tokenizer\'s (said), chrF/BLEU on the held-out split, start summary; a bad file names line 1', async () => {
  const nllb = path.join(tmp, 'nllb');
  initModelDir(nllb, { arch: 'nllb-moe', config: { d_model: 16, encoder_layers: 2, decoder_layers: 2, encoder_attention_heads: 2, decoder_attention_heads: 2, encoder_ffn_dim: 32, decoder_ffn_dim: 32, num_experts: 2, encoder_sparse_step: 2, decoder_sparse_step: 2, expert_capacity: null, max_position_embeddings: 64 }, tokenizerTexts: texts, seed: 3 });
  const file = path.join(tmp, 'pairs.jsonl');
  fs.writeFileSync(file, pairs.map((p) => JSON.stringify({ src: p.src, tgt: p.tgt })).join('\n') + '\n');
  const out = path.join(tmp, 'mt');
  const r = await run(['train', '--model', nllb, '--data', file, '--out', out, '--max-steps', '2', '--batch-size', '4', '--eval-every', '2', '--dev-translations', '2', '--seed', '1', '--backend', 'wasm', '--no-progress']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /data: 120 line\(s\) name no src_lang: using eng_Latn \(the tokenizer's; --src-lang sets another\)/);
  assert.match(r.stderr, /translation: 118 training examples, 2 held out; 30 steps per epoch at 4 examples per step; 2 steps; training [\d.]+k of [\d.]+k parameters/);
  const last = metrics(out).filter((x) => x.type === 'eval').pop() as unknown as Record<string, number>;
  assert.ok(Number.isFinite(last.chrf) && Number.isFinite(last.bleu), JSON.stringify(last));
  const bad = path.join(tmp, 'nosrc.jsonl');
  fs.writeFileSync(bad, pairs.slice(0, 30).map((p) => JSON.stringify({ source: p.src, tgt: p.tgt })).join('\n') + '\n');
  const rb = await run(['train', '--model', nllb, '--data', bad, '--out', path.join(tmp, 'mt-bad'), '--max-steps', '2', '--backend', 'wasm', '--no-progress']);
  assert.is(rb.code, 1);
  assert.match(lastLine(rb.stderr), /nosrc\.jsonl:1: expected a string field "src", found none$/);
});

test.run();
