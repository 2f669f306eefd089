/**
 * Backend selection: explicit names, `auto` order, and a native package that fails
 * part-way (registers kernels and its backend, then throws on a missing binding,
 * as tfjs-node does without libtensorflow): wasm must still start afterwards.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { NATIVE_PACKAGES, selectBackend, tryNativePackages, type BackendName } from '../backend/select.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'backend-'));

function resolvable(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

test('explicit wasm and cpu, switching back and forth, computing right', async () => {
  for (const name of ['wasm', 'cpu', 'wasm'] as const) {
    assert.is(await selectBackend(name), name);
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2])));
    assert.equal(Array.from(y.dataSync()), [19, 22, 43, 50]);
    y.dispose();
  }
});

test('unknown name is a PolyglotError naming the choices', async () => {
  try {
    await selectBackend('webgl' as BackendName);
    assert.unreachable('should throw');
  } catch (e) {
    assert.ok(e instanceof PolyglotError);
    assert.is((e as Error).message, '--backend: expected one of auto, tensorflow, wasm, cpu, found "webgl"');
  }
});

test('auto: native when installed, otherwise wasm', async () => {
  const nativeInstalled = NATIVE_PACKAGES.some(resolvable);
  const chosen = await selectBackend('auto');
  if (nativeInstalled) assert.ok(chosen === 'tensorflow' || chosen === 'wasm', chosen);
  else assert.is(chosen, 'wasm');
  if (!nativeInstalled) {
    try {
      await selectBackend('tensorflow');
      assert.unreachable('should throw');
    } catch (e) {
      assert.ok(e instanceof PolyglotError);
      assert.match((e as Error).message, /^backend "tensorflow": neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node could be loaded/);
    }
  }
});

test('a native package missing its binding (registers, then throws) leaves wasm working', async () => {
  // Stand-in for tfjs-node without libtensorflow: uses the test's tfjs instance.
  (globalThis as { __polyglotTf?: typeof tf }).__polyglotTf = tf;
  const fake = path.join(tmp, 'fake-tfjs-node.mjs');
  fs.writeFileSync(
    fake,
    `const tf = globalThis.__polyglotTf;
tf.registerKernel({ kernelName: 'Add', backendName: 'tensorflow', kernelFunc: () => { throw new Error('no binding'); } });
tf.registerBackend('tensorflow', () => { throw new Error('binding missing'); }, 3);
throw new Error("Cannot find module '/x/lib/napi-v8/tfjs_binding.node'");
`,
  );
  const missing = pathToFileURL(path.join(tmp, 'does-not-exist.mjs')).href;
  assert.is(await tryNativePackages([missing, pathToFileURL(fake).href]), undefined);
  assert.not.ok('tensorflow' in (tf.engine() as unknown as { registryFactory: Record<string, unknown> }).registryFactory);
  assert.is(await selectBackend('wasm'), 'wasm');
  const y = tf.tidy(() => tf.add(tf.tensor1d([1, 2]), tf.tensor1d([3, 4])));
  assert.equal(Array.from(y.dataSync()), [4, 6]);
  y.dispose();
  tf.unregisterKernel('Add', 'tensorflow');
});

test.run();
