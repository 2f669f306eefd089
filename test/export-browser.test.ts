/**
 * The static web page (examples/web) generates and translates in headless Chromium with stock
 * TensorFlow.js and the exported folders, served from localhost; its token ids must equal the
 * Node run of the same example code (itself checked against HF in export-examples.test.ts).
 * Needs Debian's chromium (/usr/bin/chromium, or $POLYGLOT_CHROMIUM); without it the test is
 * reported skipped with the reason, or fails when POLYGLOT_REQUIRE_BROWSER=1 (as in .ci/run).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import { packageRoot } from './paths.js';
import { fixturePath } from './helpers.js';
import { loadTokenizer } from '../tokenizers/load.js';
import { continuationText } from '../generation/generate-text.js';
import { examplesDir, exportFixtures, importExample, type FsHandlerModule, type GreedyModule } from './export-examples-shared.js';

// $POLYGLOT_CHROMIUM, when set, is the only candidate.
const CANDIDATES = process.env.POLYGLOT_CHROMIUM ? [process.env.POLYGLOT_CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const chromium = CANDIDATES.find((p) => fs.existsSync(p));
// Without Chromium the test is skipped with its reason, unless the run requires it (.ci/run sets
// POLYGLOT_REQUIRE_BROWSER=1 after installing Chromium, so CI cannot pass by skipping it).
const skip = !chromium && process.env.POLYGLOT_REQUIRE_BROWSER !== '1';

const TYPES: Record<string, string> = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json', '.bin': 'application/octet-stream', '.model': 'application/octet-stream' };

interface PageResult {
  ok: boolean;
  error?: string;
  stack?: string;
  task?: string;
  input_ids?: number[];
  generated_ids?: number[];
  text?: string;
  backend?: string;
}

/** Serves /web, /lib (the examples), /web/vendor/tf.fesm.min.js, /web/xglm and /web/nllb (exports); POST /result resolves. */
function startServer(exportsDirs: { xglm: string; nllb: string }): Promise<{ server: http.Server; port: number; results: PageResult[]; next: () => Promise<PageResult> }> {
  const results: PageResult[] = [];
  let waiter: ((r: PageResult) => void) | undefined;
  const mounts: [string, string][] = [
    ['/web/vendor/tf.fesm.min.js', path.join(packageRoot(), 'node_modules/@tensorflow/tfjs/dist/tf.fesm.min.js')],
    ['/web/xglm/', exportsDirs.xglm + '/'],
    ['/web/nllb/', exportsDirs.nllb + '/'],
    ['/web/', path.join(examplesDir, 'web') + '/'],
    ['/lib/', path.join(examplesDir, 'lib') + '/'],
  ];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (process.env.POLYGLOT_DEBUG_SERVER) res.on("finish", () => process.stderr.write(`${req.method} ${req.url} ${res.statusCode}\n`));
    if (req.method === 'POST' && url.pathname === '/result') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        res.end('ok');
        const r = JSON.parse(body) as PageResult;
        if (waiter) waiter(r);
        else results.push(r);
      });
      return;
    }
    const mount = mounts.find(([prefix]) => url.pathname === prefix || (prefix.endsWith('/') && url.pathname.startsWith(prefix)));
    const file = mount ? (mount[0].endsWith('/') ? path.join(mount[1], decodeURIComponent(url.pathname.slice(mount[0].length))) : mount[1]) : undefined;
    if (!file || file.includes('..') || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    const body = fs.readFileSync(file);
    res.setHeader('content-type', TYPES[path.extname(file)] ?? 'application/octet-stream');
    res.setHeader('content-length', body.length);
    res.end(body);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      const next = () =>
        new Promise<PageResult>((res, rej) => {
          if (results.length) return res(results.shift()!);
          const timer = setTimeout(() => rej(new Error('the page did not report a result within 60 s')), 60_000);
          waiter = (r) => {
            clearTimeout(timer);
            waiter = undefined;
            res(r);
          };
        });
      resolve({ server, port, results, next });
    });
  });
}

function launch(url: string, profile: string): ChildProcess {
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-extensions',
    `--user-data-dir=${profile}`,
    url,
  ];
  // own process group, so the browser's helper processes end with it
  return spawn(chromium!, args, { stdio: 'ignore', detached: true });
}

function stop(p: ChildProcess): void {
  if (p.pid !== undefined && p.exitCode === null) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

if (skip) {
  // uvu counts it under Skipped (not in Total), so scripts/run-tests.mjs reports "N skipped".
  process.stderr.write(`export-browser: SKIPPED: no Chromium found (looked for ${CANDIDATES.join(', ')}; apt-get install -y chromium, or set POLYGLOT_CHROMIUM)\n`);
  test.skip('web page in headless Chromium (skipped: no Chromium)');
} else {
  test('web page generates (XGLM) and translates (NLLB-MoE) in headless Chromium like the Node example', async () => {
    if (!chromium) {
      assert.unreachable(`no Chromium found (looked for ${CANDIDATES.join(', ')}): install Debian's package (apt-get install -y chromium) or set POLYGLOT_CHROMIUM (POLYGLOT_REQUIRE_BROWSER=1 makes its absence a failure)`);
    }
    await tf.setBackend('cpu');
    const dirs = await exportFixtures();
    const { server, port, next } = await startServer(dirs);
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'polyglot-chromium-'));
    const greedy = await importExample<GreedyModule>('lib/greedy.mjs');
    const fsh = await importExample<FsHandlerModule>('lib/fs-handler.mjs');
    try {
      const text = 'Hello world, this is';
      const q = (o: Record<string, string>) => new URLSearchParams({ ...o, backend: 'cpu', autorun: '1', report: '/result' }).toString();
      // XGLM
      let browser = launch(`http://127.0.0.1:${port}/web/index.html?${q({ task: 'xglm', model: './xglm/', text, max: '8' })}`, path.join(profile, 'a'));
      const x = await next().finally(() => stop(browser));
      if (!x.ok) console.error(x.stack);
      assert.ok(x.ok, `page error: ${x.error}`);
      assert.is(x.backend, 'cpu');
      const xModels = { decoder: await fsh.loadGraph(path.join(dirs.xglm, 'decoder_model')), decoderWithPast: await fsh.loadGraph(path.join(dirs.xglm, 'decoder_with_past_model')) };
      assert.equal(x.generated_ids, await greedy.xglmGreedy(xModels, x.input_ids!, { maxNewTokens: 8 }));
      assert.equal(x.input_ids!.slice(0, 3), [2, 357, 506], 'page tokenizer: </s> then sentencepiece ids + 1');
      const xtok = await loadTokenizer(fixturePath('xglm-tiny'));
      assert.is(x.text, text + continuationText(xtok, x.input_ids!, x.generated_ids!, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }), 'the prompt as typed + the continuation HF pipeline decodes');
      // NLLB-MoE
      browser = launch(`http://127.0.0.1:${port}/web/index.html?${q({ task: 'nllb', model: './nllb/', text, src: 'eng_Latn', tgt: 'fra_Latn', max: '6' })}`, path.join(profile, 'b'));
      const n = await next().finally(() => stop(browser));
      assert.ok(n.ok, `page error: ${n.error}`);
      const nModels = {
        encoder: await fsh.loadGraph(path.join(dirs.nllb, 'encoder_model')),
        decoder: await fsh.loadGraph(path.join(dirs.nllb, 'decoder_model')),
        decoderWithPast: await fsh.loadGraph(path.join(dirs.nllb, 'decoder_with_past_model')),
      };
      assert.is(n.input_ids![0], 1047, 'eng_Latn first');
      assert.is(n.input_ids![n.input_ids!.length - 1], 2, '</s> last');
      assert.equal(n.generated_ids, await greedy.nllbGreedy(nModels, n.input_ids!, { tgtLangId: 1057, maxNewTokens: 6 }));
    } finally {
      server.close();
      fs.rmSync(profile, { recursive: true, force: true });
      fs.rmSync(dirs.root, { recursive: true, force: true });
    }
  });
}

test.run();
