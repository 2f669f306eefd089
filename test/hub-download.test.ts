import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveModel } from '../hub/resolve-model.js';
import { hubSettings } from '../hub/settings.js';
import { HubError } from '../hub/hub-error.js';
import { openCheckpoint } from '../convert/open-checkpoint.js';
import { fixturePath, rejectsExactly } from './helpers.js';
import { fixtureFiles, gitBlobSha1, HubTestServer, sha256 } from './hub-server.js';

const XGLM = 'test-org/xglm-tiny';
const xglmFiles = fixtureFiles(fixturePath('xglm-tiny'));
const v2Files = { ...xglmFiles, 'generation_config.json': Buffer.from('{"max_length": 7}\n') };
const nllbFiles = fixtureFiles(fixturePath('nllb-moe-tiny'));
const binFiles = fixtureFiles(fixturePath('xglm-tiny-bin'));
const WEIGHTS = xglmFiles['model.safetensors'];

const server = new HubTestServer(
  {
    [XGLM]: { revisions: { main: xglmFiles, v2: v2Files } },
    'test-org/nllb-moe-tiny': { revisions: { main: nllbFiles } },
    'test-org/gated': { revisions: { main: xglmFiles }, gatedToken: 'hf_secret' },
    'test-org/no-config': { revisions: { main: { 'model.safetensors': WEIGHTS } } },
    'test-org/xglm-bin': { revisions: { main: binFiles } },
    'test-org/xglm-both': { revisions: { main: { ...xglmFiles, 'pytorch_model.bin': binFiles['pytorch_model.bin'] } } },
    'test-org/no-weights': { revisions: { main: { 'config.json': xglmFiles['config.json'] } } },
  },
  { 'test-org/old-xglm': XGLM },
);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-'));
let n = 0;
/** A fresh cache folder per test. */
const freshCache = (): string => path.join(tmp, `cache-${++n}`);
const opts = (cacheDir: string, extra: Record<string, unknown> = {}) => ({ endpoint: server.endpoint, cacheDir, token: false as const, ...extra });
const storage = (cacheDir: string, repoId = XGLM): string => path.join(cacheDir, `models--${repoId.replace('/', '--')}`);
const isLfs = (name: string): boolean => /\.(safetensors|bin|model)$/.test(name);
const etagOf = (bytes: Buffer, name: string): string => (isLfs(name) ? sha256(bytes) : gitBlobSha1(bytes));
const cdnGets = (sha: string) => server.requests.filter((r) => r.server === 'cdn' && r.method === 'GET' && r.url === `/cdn/${sha}`);

test.before(async () => {
  await server.start();
});
test.after(async () => {
  await server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('cold download lays out the cache like huggingface_hub, file by file; offline then makes no request', async () => {
  const cache = freshCache();
  const dir = await resolveModel(XGLM, opts(cache));
  const commit = server.commit(XGLM, 'main');
  const repo = storage(cache);
  assert.is(dir, path.join(repo, 'snapshots', commit));
  assert.is(fs.readFileSync(path.join(repo, 'refs', 'main'), 'utf8'), commit);
  assert.equal(fs.readdirSync(path.join(repo, 'refs')), ['main']);
  assert.equal(fs.readdirSync(path.join(repo, 'snapshots')), [commit]);
  assert.equal(fs.readdirSync(dir).sort(), Object.keys(xglmFiles).sort());
  for (const [name, bytes] of Object.entries(xglmFiles)) {
    const link = path.join(dir, name);
    assert.ok(fs.lstatSync(link).isSymbolicLink(), `${name} is a symlink`);
    assert.is(fs.readlinkSync(link), `../../blobs/${etagOf(bytes, name)}`, `${name}: relative link to its blob`);
    assert.ok(fs.readFileSync(link).equals(bytes), `${name}: content`);
  }
  assert.equal(fs.readdirSync(path.join(repo, 'blobs')).sort(), Object.entries(xglmFiles).map(([name, b]) => etagOf(b, name)).sort());
  // Optional files the repo lacks are remembered as huggingface_hub does; no weight layout after the first found is asked for.
  assert.equal(fs.readdirSync(path.join(repo, '.no_exist', commit)).sort(), ['added_tokens.json', 'vocab.json']);
  assert.is(fs.statSync(path.join(repo, '.no_exist', commit, 'vocab.json')).size, 0);
  assert.equal(fs.readdirSync(path.join(cache, '.locks', 'models--test-org--xglm-tiny')), [], 'locks released');
  // LFS files came from the CDN host, each once.
  assert.is(cdnGets(sha256(WEIGHTS)).length, 1);
  assert.is(openCheckpoint(dir).tensors.read('model.embed_tokens.weight').shape.length, 2);

  const before = server.requests.length;
  assert.is(await resolveModel(XGLM, opts(cache, { localFilesOnly: true })), dir);
  assert.is(server.requests.length, before, 'offline: no request');
  assert.is(hubSettings({}, { HF_HUB_OFFLINE: '1' }).offline, true);
  // Online again: HEADs only, nothing loaded twice.
  assert.is(await resolveModel(XGLM, opts(cache)), dir);
  assert.ok(server.requests.slice(before).every((r) => r.method === 'HEAD' && r.server === 'endpoint'));
});

test('a cache written by Python is used with no network (offline, and with the endpoint unreachable)', async () => {
  const cache = freshCache();
  const commit = '0123456789abcdef0123456789abcdef01234567';
  const repo = storage(cache, 'facebook/xglm-tiny');
  fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
  fs.mkdirSync(path.join(repo, 'snapshots', commit), { recursive: true });
  fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(repo, 'refs', 'main'), commit);
  for (const [name, bytes] of Object.entries(xglmFiles)) {
    fs.writeFileSync(path.join(repo, 'blobs', etagOf(bytes, name)), bytes);
    fs.symlinkSync(`../../blobs/${etagOf(bytes, name)}`, path.join(repo, 'snapshots', commit, name));
  }
  const dead = new HubTestServer({});
  await dead.start();
  const deadEndpoint = dead.endpoint;
  await dead.stop(); // nothing listens there any more
  const expected = path.join(repo, 'snapshots', commit);
  assert.is(await resolveModel('facebook/xglm-tiny', { endpoint: deadEndpoint, cacheDir: cache, token: false, localFilesOnly: true }), expected);
  assert.is(await resolveModel('facebook/xglm-tiny', { endpoint: deadEndpoint, cacheDir: cache, token: false }), expected);
  assert.is(dead.requests.length, 0);
  const err = await rejectsExactly(
    resolveModel('facebook/other', { endpoint: deadEndpoint, cacheDir: cache, token: false }),
    /^facebook\/other@main: config\.json: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): check the connection and HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only the cache$/,
  );
  assert.is((err as HubError).kind, 'unreachable');
});

test('offline with files missing: one line naming the file and what to do', async () => {
  const cache = freshCache();
  await rejectsExactly(
    resolveModel(XGLM, opts(cache, { localFilesOnly: true })),
    `test-org/xglm-tiny@main: config.json is not in the hub cache (${cache}) and offline mode (HF_HUB_OFFLINE=1 or localFilesOnly) forbids downloading it: run once online to download it`,
  );
  // Cached config but weights never loaded (e.g. an interrupted run).
  const commit = server.commit(XGLM, 'main');
  await resolveModel(XGLM, opts(cache));
  fs.rmSync(path.join(storage(cache), 'snapshots', commit, 'model.safetensors'));
  await rejectsExactly(
    resolveModel(XGLM, opts(cache, { localFilesOnly: true })),
    'test-org/xglm-tiny@main: no weights in the hub cache (offline mode: run once online to download them) (expected one of model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json)',
  );
});

test('a connection dropped half-way is resumed with Range from the bytes already on disk', async () => {
  const cache = freshCache();
  server.dropAfter.set('model.safetensors', 200_000);
  const before = cdnGets(sha256(WEIGHTS)).length;
  const seen: number[] = [];
  const dir = await resolveModel(XGLM, opts(cache, { onProgress: (p: { file: string; loaded: number }) => p.file === 'model.safetensors' && seen.push(p.loaded) }));
  const gets = cdnGets(sha256(WEIGHTS)).slice(before);
  assert.is(gets.length, 2);
  assert.is(gets[0].range, undefined);
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(gets[1].range ?? '')?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= 200_000, `resumed at ${resumedAt}`);
  assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(WEIGHTS));
  assert.is(seen[seen.length - 1], WEIGHTS.length);
  assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]), 'progress never goes back');
});

test('a partial file left by a killed process is resumed; a corrupt one is detected by sha256 and loaded again', async () => {
  const sha = sha256(WEIGHTS);
  const cache = freshCache();
  const incomplete = path.join(storage(cache), 'blobs', `${sha}.incomplete`);
  fs.mkdirSync(path.dirname(incomplete), { recursive: true });
  fs.writeFileSync(incomplete, WEIGHTS.subarray(0, 100_000));
  let before = cdnGets(sha).length;
  let dir = await resolveModel(XGLM, opts(cache));
  assert.equal(cdnGets(sha).slice(before).map((r) => r.range), ['bytes=100000-']);
  assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(WEIGHTS));
  assert.not.ok(fs.existsSync(incomplete));

  const cache2 = freshCache();
  const incomplete2 = path.join(storage(cache2), 'blobs', `${sha}.incomplete`);
  fs.mkdirSync(path.dirname(incomplete2), { recursive: true });
  fs.writeFileSync(incomplete2, Buffer.alloc(100_000, 7)); // same size, wrong bytes
  before = cdnGets(sha).length;
  dir = await resolveModel(XGLM, opts(cache2));
  assert.equal(cdnGets(sha).slice(before).map((r) => r.range), ['bytes=100000-', undefined]);
  assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(WEIGHTS));
  // Longer than the file: thrown away, loaded from 0.
  const cache3 = freshCache();
  const incomplete3 = path.join(storage(cache3), 'blobs', `${sha}.incomplete`);
  fs.mkdirSync(path.dirname(incomplete3), { recursive: true });
  fs.writeFileSync(incomplete3, Buffer.alloc(WEIGHTS.length + 5));
  before = cdnGets(sha).length;
  dir = await resolveModel(XGLM, opts(cache3));
  assert.equal(cdnGets(sha).slice(before).map((r) => r.range), [undefined]);
  assert.ok(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(WEIGHTS));
});

test('the token goes to the endpoint only, never to the CDN host; gated repos need it', async () => {
  const cache = freshCache();
  await rejectsExactly(
    resolveModel('test-org/gated', opts(cache, { token: false })),
    `test-org/gated: gated repository (HTTP 401): accept its conditions on ${server.endpoint}/test-org/gated, then set HF_TOKEN or save a token in ${hubSettings({ token: false }).tokenPath}`,
  );
  await rejectsExactly(
    resolveModel('test-org/gated', opts(cache, { token: 'hf_wrong' })),
    `test-org/gated: gated repository (HTTP 401): accept its conditions on ${server.endpoint}/test-org/gated, then the token from the token option was refused: check that it is valid and has access`,
  );
  const before = server.requests.length;
  await resolveModel('test-org/gated', opts(cache, { token: 'hf_secret' }));
  const reqs = server.requests.slice(before);
  assert.ok(reqs.some((r) => r.server === 'cdn'), 'LFS files came from the CDN');
  for (const r of reqs) assert.is(r.authorization, r.server === 'endpoint' ? 'Bearer hf_secret' : undefined, `${r.server} ${r.method} ${r.url}`);
});

test('token and endpoint from the environment as huggingface_hub reads them', () => {
  const home = path.join(tmp, 'hf-home');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, 'token'), 'hf_fromfile\n');
  const s = hubSettings({}, { HF_HOME: home, HF_ENDPOINT: 'http://127.0.0.1:9/' });
  assert.equal([s.token, s.tokenSource, s.endpoint, s.cacheDir, s.offline], ['hf_fromfile', path.join(home, 'token'), 'http://127.0.0.1:9', path.join(home, 'hub'), false]);
  assert.is(hubSettings({}, { HF_HOME: home, HF_TOKEN: ' hf_env ' }).token, 'hf_env');
  assert.is(hubSettings({ token: false }, { HF_HOME: home, HF_TOKEN: 'hf_env' }).token, undefined);
  assert.is(hubSettings({}, { HF_HOME: home, HF_HUB_CACHE: '/x/hub', TRANSFORMERS_OFFLINE: 'yes' }).cacheDir, '/x/hub');
  assert.is(hubSettings({}, { HF_HOME: home, HF_HUB_OFFLINE: 'true' }).offline, true);
  assert.is(hubSettings({}, { HF_HOME: home, HF_HUB_OFFLINE: '0' }).offline, false);
});

test('missing repo, revision and files: one line saying what to do', async () => {
  const cache = freshCache();
  await rejectsExactly(
    resolveModel('test-org/nope', opts(cache)),
    `test-org/nope: repository not found on ${server.endpoint} (HTTP 401): check the id; if it is private or gated, set HF_TOKEN or save a token in ${hubSettings({ token: false }).tokenPath}`,
  );
  await rejectsExactly(
    resolveModel(XGLM, opts(cache, { revision: 'v9' })),
    `test-org/xglm-tiny: revision "v9" not found on ${server.endpoint} (HTTP 404): pass --revision with an existing branch, tag or commit`,
  );
  await rejectsExactly(resolveModel('test-org/no-config', opts(cache)), 'test-org/no-config@main: the repository has no config.json (not a transformers model?): check the model id and --revision');
  await rejectsExactly(
    resolveModel('test-org/no-weights', opts(cache)),
    `test-org/no-weights@main: no weights on ${server.endpoint} (expected one of model.safetensors, model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json)`,
  );
  await rejectsExactly(resolveModel('not a model', opts(cache)), 'not a model: no such directory (and not an ORG/NAME model id)');
});

test('revisions by branch and by commit share blobs; a cached commit needs no request', async () => {
  const cache = freshCache();
  const main = server.commit(XGLM, 'main');
  const v2 = server.commit(XGLM, 'v2');
  const dirMain = await resolveModel(XGLM, opts(cache));
  const dirV2 = await resolveModel(XGLM, opts(cache, { revision: 'v2' }));
  assert.is(dirV2, path.join(storage(cache), 'snapshots', v2));
  assert.is(fs.readFileSync(path.join(storage(cache), 'refs', 'v2'), 'utf8'), v2);
  assert.is(fs.readFileSync(path.join(dirV2, 'generation_config.json'), 'utf8'), '{"max_length": 7}\n');
  assert.is(fs.readlinkSync(path.join(dirV2, 'model.safetensors')), fs.readlinkSync(path.join(dirMain, 'model.safetensors')));
  assert.is(cdnGets(sha256(WEIGHTS)).length >= 1, true);
  const before = server.requests.length;
  assert.is(await resolveModel(XGLM, opts(cache, { revision: main })), dirMain);
  assert.is(server.requests.length, before, 'commit already cached: no request');
  // A commit not yet cached is loaded into its own snapshot, with no ref (a commit is its own name).
  const cache2 = freshCache();
  assert.is(await resolveModel(XGLM, opts(cache2, { revision: v2 })), path.join(storage(cache2), 'snapshots', v2));
  assert.not.ok(fs.existsSync(path.join(storage(cache2), 'refs')));
});

test('sharded safetensors: the index and every shard; a renamed repo follows the relative redirect', async () => {
  const cache = freshCache();
  const dir = await resolveModel('test-org/nllb-moe-tiny', opts(cache));
  assert.equal(fs.readdirSync(dir).sort(), Object.keys(nllbFiles).sort());
  assert.is(openCheckpoint(dir).files.length, 2);
  const renamed = await resolveModel('test-org/old-xglm', opts(cache));
  assert.is(renamed, path.join(storage(cache, 'test-org/old-xglm'), 'snapshots', server.commit(XGLM, 'main')));
  assert.ok(fs.readFileSync(path.join(renamed, 'model.safetensors')).equals(WEIGHTS));
});

test('weights: safetensors preferred when both exist (the .bin is never fetched), pytorch_model.bin otherwise', async () => {
  const cache = freshCache();
  const binSha = sha256(binFiles['pytorch_model.bin']);
  const before = cdnGets(binSha).length;
  const both = await resolveModel('test-org/xglm-both', opts(cache));
  assert.ok(fs.existsSync(path.join(both, 'model.safetensors')));
  assert.not.ok(fs.existsSync(path.join(both, 'pytorch_model.bin')));
  assert.is(cdnGets(binSha).length, before);
  const bin = await resolveModel('test-org/xglm-bin', opts(cache));
  assert.ok(fs.readFileSync(path.join(bin, 'pytorch_model.bin')).equals(binFiles['pytorch_model.bin']));
  assert.equal(fs.readdirSync(path.join(storage(cache, 'test-org/xglm-bin'), '.no_exist', server.commit('test-org/xglm-bin', 'main'))).sort(), [
    'added_tokens.json',
    'model.safetensors',
    'model.safetensors.index.json',
    'vocab.json',
  ]);
  assert.is(openCheckpoint(bin).files.length, 1);
});

test('two processes downloading the same model at once: one downloads, the other waits; both get it whole', async () => {
  const cache = freshCache();
  const here = fileURLToPath(import.meta.url);
  const child = path.join(path.dirname(here), `hub-child${path.extname(here)}`);
  const sha = sha256(WEIGHTS);
  const before = cdnGets(sha).length;
  server.chunkDelayMs = 40;
  const run = (): Promise<{ code: number | null; out: string; err: string }> =>
    new Promise((resolve) => {
      const p = spawn(process.execPath, [...process.execArgv, child, server.endpoint, cache, XGLM], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => resolve({ code, out, err }));
    });
  try {
    const [a, b] = await Promise.all([run(), run()]);
    assert.is(a.code, 0, a.err);
    assert.is(b.code, 0, b.err);
    assert.is(a.out, b.out);
    assert.ok(fs.readFileSync(path.join(a.out.trim(), 'model.safetensors')).equals(WEIGHTS));
    assert.is(cdnGets(sha).length - before, 1, 'the weights were loaded once');
  } finally {
    server.chunkDelayMs = 0;
  }
});

test.run();
