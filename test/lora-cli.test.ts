/**
 * LoRA through the real `polyglot` binary: train --lora, then --adapter on generate / eval / verify,
 * merge-adapter (a plain HF directory whose outputs equal the adapted model's), export --adapter,
 * and one-line errors for bad adapters.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from './paths.js';
import { fixturePath } from './helpers.js';

const cli = path.join(packageRoot(), 'dist', 'cli', 'polyglot.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-cli-'));
const model = fixturePath('xglm-tiny');

function runCli(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [cli, ...args, '--backend', 'cpu', '--quiet'], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}
function ok(args: string[]): string {
  const r = runCli(args);
  assert.is(r.status, 0, `polyglot ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const lines = fs.readFileSync(fixturePath('corpus', 'monolingual.txt'), 'utf8').split('\n').filter((l) => l.trim());
const train = path.join(tmp, 'train.txt');
const dev = path.join(tmp, 'dev.txt');
fs.writeFileSync(train, lines.slice(0, 48).join('\n') + '\n');
fs.writeFileSync(dev, lines.slice(48, 64).join('\n') + '\n');
const out = path.join(tmp, 'run');
const adapter = path.join(out, 'adapter');

test('train --lora writes a peft adapter; generate / eval / verify take --adapter; merge-adapter equals it', () => {
  const trainOut = ok(['train', '--model', model, '--data', train, '--eval-data', dev, '--out', out, '--lora', '--lora-r', '4', '--lora-targets', 'q_proj', 'v_proj', 'fc2', '--max-steps', '6', '--lr', '0.01', '--batch-size', '4', '--max-length', '24', '--eval-every', '6', '--no-progress']);
  assert.match(trainOut, `adapter: ${adapter}`);
  const cfg = JSON.parse(fs.readFileSync(path.join(adapter, 'adapter_config.json'), 'utf8'));
  assert.equal([cfg.r, cfg.lora_alpha, cfg.lora_dropout, cfg.target_modules], [4, 16, 0.05, ['fc2', 'q_proj', 'v_proj']]);

  const evalBase = JSON.parse(ok(['eval', '--model', model, '--data', dev, '--max-length', '24', '--json']));
  const evalLora = JSON.parse(ok(['eval', '--model', model, '--data', dev, '--max-length', '24', '--json', '--adapter', adapter]));
  assert.ok(evalLora.loss < evalBase.loss, `eval loss with adapter ${evalLora.loss} < base ${evalBase.loss}`);

  const merged = path.join(tmp, 'merged');
  assert.match(ok(['merge-adapter', '--model', model, '--adapter', adapter, '--out', merged]), /^6 adapted modules merged/);
  const evalMerged = JSON.parse(ok(['eval', '--model', merged, '--data', dev, '--max-length', '24', '--json']));
  assert.ok(Math.abs(evalMerged.loss - evalLora.loss) < 1e-5, `merged ${evalMerged.loss} vs adapter ${evalLora.loss}`);

  const gen = (extra: string[]) => JSON.parse(ok(['generate', '--model', model, '--prompt', 'The cat', '--max-new-tokens', '6', '--json', ...extra]).trim()).new_ids;
  assert.equal(gen(['--adapter', adapter]), JSON.parse(ok(['generate', '--model', merged, '--prompt', 'The cat', '--max-new-tokens', '6', '--json']).trim()).new_ids);

  // an adapter trained with lr 1e-30 (B within 1e-29 of zero) keeps the fixture's HF references passing
  const fresh = path.join(tmp, 'fresh');
  ok(['train', '--model', model, '--data', train, '--out', fresh, '--lora', '--max-steps', '1', '--lr', '1e-30', '--batch-size', '2', '--max-length', '16', '--eval-every', '0', '--no-progress', '--max-grad-norm', '0']);
  const v = runCli(['verify', model, '--adapter', path.join(fresh, 'adapter'), '--filter', 'forward']);
  assert.is(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, / 0 failed/);

  const graph = path.join(tmp, 'graph');
  ok(['export', model, '--out', graph, '--adapter', adapter]);
  assert.ok(fs.existsSync(path.join(graph, 'decoder_model', 'model.json')));
});

test('bad adapters: one stderr line, exit 1', () => {
  const bad = path.join(tmp, 'bad');
  fs.cpSync(adapter, bad, { recursive: true });
  const cfg = JSON.parse(fs.readFileSync(path.join(bad, 'adapter_config.json'), 'utf8'));
  fs.writeFileSync(path.join(bad, 'adapter_config.json'), JSON.stringify({ ...cfg, target_modules: ['dense'] }));
  for (const args of [
    ['eval', '--model', model, '--data', dev, '--adapter', bad],
    ['merge-adapter', '--model', model, '--adapter', bad, '--out', path.join(tmp, 'x')],
    ['generate', '--model', model, '--prompt', 'a', '--adapter', path.join(tmp, 'nowhere')],
    ['train', '--model', model, '--data', train, '--out', path.join(tmp, 'y'), '--lora', '--lora-targets', 'nothing_here', '--max-steps', '1'],
  ]) {
    const r = runCli(args);
    assert.is(r.status, 1, args.join(' '));
    const err = r.stderr.trim().split('\n');
    assert.is(err.length, 1, r.stderr);
    assert.match(err[0], /^polyglot: .*(target_modules|not a peft adapter)/);
  }
});

test.run();
