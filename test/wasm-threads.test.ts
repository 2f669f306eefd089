/**
 * POLYGLOT_WASM_THREADS=N (backend/wasm-threads.ts): tfjs' threaded SIMD wasm build in Node.
 * Each case is a child process (the backend initialises once per process): the xglm-tiny and
 * nllb-moe-tiny fixtures' HF reference numbers (forward, incremental, greedy ids, loss, grads)
 * must hold on 2 threads, the backend line must say so, and the process must exit by itself
 * (the pool's workers never keep it alive). A bad value is a one-line error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { packageRoot } from './paths.js';
import { fixturePath } from './helpers.js';

const cli = path.join(packageRoot(), 'dist', 'cli', 'polyglot.js');

function verify(fixture: string, threads: string) {
  const env = { ...process.env, POLYGLOT_WASM_THREADS: threads };
  return spawnSync(process.execPath, [cli, 'verify', fixturePath(fixture), '--backend', 'wasm'], { encoding: 'utf8', env, timeout: 120_000, killSignal: 'SIGKILL', maxBuffer: 1 << 24 });
}

for (const fixture of ['xglm-tiny', 'nllb-moe-tiny']) {
  test(`${fixture}: HF reference cases pass on the threaded wasm build (2 threads) and the process exits`, () => {
    const r = verify(fixture, '2');
    assert.is(r.status, 0, `exit code (null: killed: the process did not exit) stderr: ${r.stderr.slice(0, 1000)}`);
    assert.match(r.stderr, /^backend: wasm \(wasm threads: 2; native kernels: off \(POLYGLOT_WASM_THREADS=2: /m);
    const summary = r.stdout.trim().split('\n').pop() ?? '';
    assert.match(summary, /^(\d+) passed, 0 failed, 0 unsupported$/);
    assert.ok(Number(summary.split(' ')[0]) >= 9, summary);
  });
}

test('POLYGLOT_WASM_THREADS out of range is a one-line error', () => {
  const r = verify('xglm-tiny', '9');
  assert.is(r.status, 1);
  assert.is(r.stderr.trim(), 'polyglot: POLYGLOT_WASM_THREADS: expected an integer from 1 to 8, found "9"');
});

test.run();
