import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initModelDir } from '../train/init-model.js';
import { syntheticPairs } from '../train/demo/synthetic-task.js';
import { listCheckpoints } from '../checkpoints/training-checkpoint.js';
import { SafetensorsFile } from '../convert/safetensors.js';
import { signalAfterLines } from './cli-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// From sources (tsx): run cli/polyglot.ts through tsx; from dist/test: the compiled CLI.
const fromSource = import.meta.url.endsWith('.ts');
const cli = fromSource ? path.resolve(here, '../cli/polyglot.ts') : path.resolve(here, '../cli/polyglot.js');
const nodeArgs = fromSource ? ['--import', 'tsx'] : [];

function start(args: string[]): ChildProcess {
  return spawn(process.execPath, [...nodeArgs, cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: path.resolve(here, '..') });
}

function finished(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  p.stderr!.on('data', (d) => (stderr += d));
  p.stdout!.resume();
  return new Promise((resolve) => p.on('close', (code, signal) => resolve({ code, signal, stderr })));
}

function weights(dir: string): Map<string, Float32Array> {
  const f = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  return new Map(f.names().map((n) => [n, f.read(n).data as Float32Array]));
}

test('a run killed with SIGKILL after a checkpoint and resumed ends with the weights of an uninterrupted run', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kill-'));
  const pairs = syntheticPairs(300, 5);
  const texts = pairs.flatMap((p) => [p.src, p.tgt]);
  const data = path.join(tmp, 'train.txt');
  fs.writeFileSync(data, texts.join('\n') + '\n');
  const model = path.join(tmp, 'model');
  // dropout 0.1 stays on: resuming must also restore the dropout RNG exactly
  initModelDir(model, { arch: 'xglm', config: { d_model: 32, num_layers: 1, attention_heads: 2, ffn_dim: 64, max_position_embeddings: 64 }, tokenizerTexts: texts, seed: 3 });
  const common = ['train', '--model', model, '--data', data, '--max-steps', '30', '--batch-size', '8', '--max-length', '24', '--lr', '3e-3', '--warmup-steps', '3', '--save-every', '3', '--keep', '2', '--eval-every', '0', '--seed', '11', '--backend', 'wasm', '--no-progress'];

  const full = path.join(tmp, 'full');
  const killed = path.join(tmp, 'killed');
  const a = finished(start([...common, '--out', full]));
  const childB = start([...common, '--out', killed]);
  const b = finished(childB);
  // kill B as soon as its second checkpoint exists (so the kill lands mid-run)
  await new Promise<void>((resolve) => {
    childB.on('close', () => {
      clearInterval(t);
      resolve();
    });
    const t = setInterval(() => {
      const c = listCheckpoints(path.join(killed, 'checkpoints'));
      if (c.length && c[c.length - 1].step >= 6) {
        childB.kill('SIGKILL');
        clearInterval(t);
        resolve();
      }
    }, 20);
  });
  const rb = await b;
  assert.is(rb.signal, 'SIGKILL', 'the second run was really killed');
  const atKill = listCheckpoints(path.join(killed, 'checkpoints'));
  assert.ok(atKill[atKill.length - 1].step < 30, `killed before the end (last checkpoint ${atKill[atKill.length - 1].step})`);
  assert.not.ok(fs.existsSync(path.join(killed, 'model')), 'no final model after a kill');
  const ra = await a;
  assert.is(ra.code, 0, ra.stderr);

  const rc = await finished(start([...common, '--out', killed, '--resume', killed]));
  assert.is(rc.code, 0, rc.stderr);
  const lines = fs.readFileSync(path.join(killed, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number; loss?: number });
  assert.ok(lines.some((l) => l.type === 'resume'), 'resumed from a checkpoint');

  const wa = weights(path.join(full, 'model'));
  const wb = weights(path.join(killed, 'model'));
  assert.equal([...wb.keys()].sort(), [...wa.keys()].sort());
  let maxDiff = 0;
  for (const [n, x] of wa) {
    const y = wb.get(n)!;
    for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
  }
  assert.ok(maxDiff <= 1e-6, `max weight difference ${maxDiff}`);
  // and training did move the weights away from the initialisation
  const w0 = weights(model);
  let moved = 0;
  for (const [n, x] of w0) moved = Math.max(moved, ...Array.from(x, (v, i) => Math.abs(v - wa.get(n)![i])));
  assert.ok(moved > 1e-3, `weights moved by ${moved}`);
  // the losses after the resume point equal the uninterrupted run's
  const fullLosses = fs.readFileSync(path.join(full, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'train');
  const resumedTrain = lines.filter((l) => l.type === 'train');
  const last = resumedTrain[resumedTrain.length - 1];
  assert.is(last.step, 30);
  assert.is(last.loss, fullLosses[29].loss);
});

test('Ctrl-C (SIGINT) saves a checkpoint of the current step, says how to resume and exits 130', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sigint-'));
  const texts = syntheticPairs(200, 6).flatMap((p) => [p.src, p.tgt]);
  const data = path.join(tmp, 'train.txt');
  fs.writeFileSync(data, texts.join('\n') + '\n');
  const model = path.join(tmp, 'model');
  initModelDir(model, { arch: 'xglm', config: { d_model: 32, num_layers: 1, attention_heads: 2, ffn_dim: 64, max_position_embeddings: 64 }, tokenizerTexts: texts, seed: 4 });
  const out = path.join(tmp, 'run');
  const child = start(['train', '--model', model, '--data', data, '--out', out, '--max-steps', '100000', '--batch-size', '4', '--max-length', '16', '--eval-every', '0', '--backend', 'wasm', '--no-progress']);
  const done = finished(child);
  const metrics = path.join(out, 'metrics.jsonl');
  await signalAfterLines(child, metrics, 5, 'SIGINT');
  const r = await done;
  assert.is(r.code, 130, r.stderr);
  assert.match(r.stderr, /SIGINT: saving a checkpoint/);
  assert.match(r.stderr, new RegExp(`--resume ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(r.stderr, /polyglot export-hf --model /);
  const trained = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.type === 'train');
  const cks = listCheckpoints(path.join(out, 'checkpoints'));
  assert.is(cks.length, 1);
  assert.is(cks[0].step, trained[trained.length - 1].step, 'the checkpoint holds the last completed step');
  assert.ok(cks[0].step < 100000);
  assert.not.ok(fs.existsSync(path.join(out, 'model')), 'an interrupted run is not exported');
});

test.run();
