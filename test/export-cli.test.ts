/** `polyglot export`: success output, refusal of an existing folder, a model that cannot be exported. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fixturePath } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// From sources (tsx): cli/polyglot.ts through tsx; from dist/test: the compiled CLI.
const fromSource = import.meta.url.endsWith('.ts');
const cli = fromSource ? path.resolve(here, '../cli/polyglot.ts') : path.resolve(here, '../cli/polyglot.js');
const nodeArgs = fromSource ? ['--import', 'tsx'] : [];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...nodeArgs, cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: path.resolve(here, '..') });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('polyglot export: writes a quantized export, refuses an existing folder, names what cannot be exported', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-export-cli-'));
  const out = path.join(root, 'xglm');
  const bert = path.join(root, 'bert');
  fs.mkdirSync(bert);
  fs.writeFileSync(path.join(bert, 'config.json'), JSON.stringify({ model_type: 'bert' }));
  fs.copyFileSync(fixturePath('xglm-tiny', 'model.safetensors'), path.join(bert, 'model.safetensors'));
  try {
    const [ok, bad] = await Promise.all([
      run(['export', fixturePath('xglm-tiny'), '--out', out, '--format', 'graph', '--quantize', 'float16', '--backend', 'cpu', '--quiet']),
      run(['export', bert, '--out', path.join(root, 'bert-out'), '--backend', 'cpu', '--quiet']),
    ]);
    assert.is(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^decoder_model\t\d+\.\d\d MB to load\ndecoder_with_past_model\t/);
    assert.match(ok.stdout, /exported xglm to .*copied config\.json, generation_config\.json, sentencepiece\.bpe\.model/);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'decoder_model', 'model.json'), 'utf8'));
    assert.is(json.format, 'graph-model');
    assert.ok(json.weightsManifest.some((g: { weights: { quantization?: { dtype: string } }[] }) => g.weights.some((w) => w.quantization?.dtype === 'float16')));
    assert.is(bad.code, 1);
    assert.match(bad.stderr, /^polyglot: .*bert\/config\.json: field "model_type": expected one of xglm, nllb-moe, m2m_100 to export as a graph model, found "bert"$/m);
    assert.not.ok(fs.existsSync(path.join(root, 'bert-out')));
    const again = await run(['export', fixturePath('xglm-tiny'), '--out', out, '--backend', 'cpu', '--quiet']);
    assert.is(again.code, 1);
    assert.match(again.stderr, /^polyglot: .*xglm: output folder already exists \(use --force to replace it\)$/m);
    assert.not.match(again.stderr, /at .*\.ts:\d+/, 'no stack trace');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test.run();
