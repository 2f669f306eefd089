/**
 * The CLI end to end against the local hub: `polyglot generate --model test-org/xglm-tiny` from an
 * empty cache (progress on stderr), then the same with HF_HUB_OFFLINE=1 and no request at all.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturePath } from './helpers.js';
import { fixtureFiles, HubTestServer } from './hub-server.js';

const xglmFiles = fixtureFiles(fixturePath('xglm-tiny'));
const server = new HubTestServer({
  'test-org/xglm-tiny': { revisions: { main: xglmFiles, v2: { ...xglmFiles, 'generation_config.json': Buffer.from('{"max_length": 7}\n') } } },
  'test-org/gated': { revisions: { main: xglmFiles }, gatedToken: 'hf_secret' },
  'test-org/m2m100-tiny': { revisions: { main: fixtureFiles(fixturePath('m2m100-tiny')) } },
});
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hubcli-'));
const here = fileURLToPath(import.meta.url);
const cli = path.join(path.dirname(here), '..', 'cli', `polyglot${path.extname(here)}`);

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs the CLI with a clean hub environment (no token, no home cache) plus `env`. */
function polyglot(args: string[], env: Record<string, string>): Promise<Run> {
  const base: Record<string, string | undefined> = { ...process.env, HF_HOME: path.join(tmp, 'home'), HF_TOKEN: undefined, HUGGING_FACE_HUB_TOKEN: undefined, HF_HUB_OFFLINE: undefined, HF_HUB_CACHE: undefined };
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...process.execArgv, cli, ...args], { env: { ...base, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

test.before(async () => {
  await server.start();
});
test.after(async () => {
  await server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const GEN = ['generate', '--model', 'test-org/xglm-tiny', '--prompt', 'Hello world', '--max-new-tokens', '6', '--backend', 'cpu'];

test('generate from an empty cache downloads with progress; HF_HUB_OFFLINE=1 then makes no request', async () => {
  const cache = path.join(tmp, 'cache');
  const env = { HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: cache };
  const first = await polyglot(GEN, env);
  assert.is(first.code, 0, first.err);
  assert.match(first.err, /^test-org\/xglm-tiny: model\.safetensors {2}517\.4 KiB \/ 517\.4 KiB {2}100% {2}\S+ \S+\/s {2}in \d+s$/m);
  assert.match(first.err, /^test-org\/xglm-tiny: config\.json {2}568 B \/ 568 B {2}100%/m);
  assert.ok(first.out.startsWith('Hello world'), first.out);
  const requests = server.requests.length;
  assert.ok(requests > 0);

  const offline = await polyglot(GEN, { ...env, HF_HUB_OFFLINE: '1' });
  assert.is(offline.code, 0, offline.err);
  assert.is(offline.out, first.out);
  assert.not.match(offline.err, /100%/);
  assert.is(server.requests.length, requests, 'offline: no request');

  // The same model read straight from the fixture folder generates the same text.
  const direct = await polyglot([...GEN.slice(0, 2), fixturePath('xglm-tiny'), ...GEN.slice(3)], {});
  assert.is(direct.code, 0, direct.err);
  assert.is(direct.out, first.out);
});

test('--revision picks a branch; errors are one line saying what to do', async () => {
  const cache = path.join(tmp, 'cache2');
  const env = { HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: cache };
  const info = await polyglot(['info', 'test-org/xglm-tiny', '--revision', 'v2', '--json'], env);
  assert.is(info.code, 0, info.err);
  assert.is(JSON.parse(info.out).dir, path.join(cache, 'models--test-org--xglm-tiny', 'snapshots', server.commit('test-org/xglm-tiny', 'v2')));
  const gated = await polyglot(['info', 'test-org/gated'], env);
  assert.is(gated.code, 1);
  assert.is(gated.err, `polyglot: test-org/gated: gated repository (HTTP 401): accept its conditions on ${server.endpoint}/test-org/gated, then set HF_TOKEN or save a token in ${path.join(tmp, 'home', 'token')}\n`);
  const withToken = await polyglot(['info', 'test-org/gated', '--json'], { ...env, HF_TOKEN: 'hf_secret' });
  assert.is(withToken.code, 0, withToken.err);
  const offline = await polyglot(['tokenize', 'Hi', '--model', 'test-org/xglm-tiny', '--revision', 'v9'], { ...env, HF_HUB_OFFLINE: '1' });
  assert.is(offline.code, 1);
  assert.is(
    offline.err,
    `polyglot: test-org/xglm-tiny@v9: config.json is not in the hub cache (${cache}) and offline mode (HF_HUB_OFFLINE=1 or localFilesOnly) forbids downloading it: run once online to download it\n`,
  );
});

test('upcycle takes a hub id and --revision like every model command; same checkpoint as from the folder', async () => {
  const env = { HF_ENDPOINT: server.endpoint, HF_HUB_CACHE: path.join(tmp, 'cache-upcycle') };
  const args = (model: string, out: string) => ['upcycle', '--model', model, '--out', out, '--experts', '2', '--sparse-step', '1', '--seed', '3', '--quiet'];
  const fromHub = await polyglot([...args('test-org/m2m100-tiny', path.join(tmp, 'up-hub')), '--revision', 'main'], env);
  assert.is(fromHub.code, 0, fromHub.err);
  const fromDir = await polyglot(args(fixturePath('m2m100-tiny'), path.join(tmp, 'up-dir')), {});
  assert.is(fromDir.code, 0, fromDir.err);
  const weights = (d: string) => fs.readFileSync(path.join(tmp, d, 'model.safetensors'));
  assert.ok(weights('up-hub').equals(weights('up-dir')), 'identical upcycled weights');
});

test.run();
