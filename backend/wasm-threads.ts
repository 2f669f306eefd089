/**
 * tfjs-backend-wasm's threaded SIMD build (`tfjs-backend-wasm-threaded-simd.wasm`, XNNPACK on a
 * pthreadpool) in Node, opt-in with POLYGLOT_WASM_THREADS=N (docs/BACKENDS.md "wasm threads").
 *
 * tfjs 4.22.0 never uses that build in Node: its `WASM_HAS_MULTITHREAD_SUPPORT` flag returns
 * false when `IS_NODE` (tfjs issue 3830). Setting the flag is not enough, for three reasons
 * this module works around while the backend initialises (and only then):
 *  1. The pthread workers are created from `blob:` URLs (the worker script, and the Emscripten
 *     factory as the "main script" each worker imports). Node's `worker_threads.Worker` cannot
 *     start a `blob:` URL and the worker's `importScripts` reads files, so the workers died with
 *     "worker sent an error!". We record the text of the Blobs tfjs creates, start each worker
 *     from that text (`eval: true`), and hand it the factory's text inline.
 *  2. The factory's source is a function from tfjs' bundle that refers to the bundle's module
 *     variables (`require$$0` = fs, `require$$1` = path, `require$$3` = perf_hooks, `require$$4`
 *     = os, `commonjsGlobal`), which do not exist in the worker ("require$$0 is not defined"):
 *     a prelude defines them. These names are the 4.22.0 bundle's; other versions are refused.
 *  3. The C++ side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two
 *     hyperthreads a core), i.e. `os.cpus().length / 2` in Node: one thread on a 2-core machine
 *     whatever `setThreadsCount` asked. `os.cpus` reports 2N cores during initialisation.
 * Emscripten sets the global `Worker` to worker_threads' Worker during initialisation; we keep
 * ours there instead (it is one: a subclass), and our workers never keep the process alive
 * (XNNPACK's pool threads never exit; Emscripten refs a worker while its thread runs, so a
 * command would hang at its end). The threaded heap is a SharedArrayBuffer, which
 * N-API cannot address: the native addon's heap kernels are then off (backend/native.ts).
 */
import { createRequire } from 'node:module';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';
import { PolyglotError } from '../core/errors.js';
import { tf } from '../core/tf.js';

/** The tfjs-backend-wasm version whose bundle variable names the prelude matches. */
export const WASM_THREADS_TFJS_VERSION = '4.22.0';

/** Emscripten builds with a pool of 8 pthread workers; tfjs caps its threadpool there. */
export const WASM_MAX_THREADS = 8;

/** The env var, parsed: undefined when unset (or empty); N in 1..8; otherwise a PolyglotError. */
export function requestedWasmThreads(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.POLYGLOT_WASM_THREADS;
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > WASM_MAX_THREADS) {
    throw new PolyglotError(`POLYGLOT_WASM_THREADS: expected an integer from 1 to ${WASM_MAX_THREADS}, found "${raw}"`);
  }
  return n;
}

/** What the wasm package exports that we use. */
export interface WasmPackage {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
  version_wasm?: string;
}

/** Declares the bundle's module variables the factory's source refers to (see 2. above). */
const PRELUDE =
  "var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), require$$4 = require('os');\n" +
  'var commonjsGlobal = globalThis;\n';

const INLINE = 'polyglot-inline:';

/**
 * Runs in each worker before Emscripten's worker script: `importScripts` of an inline script
 * evaluates it (the factory arrives that way in the "load" message).
 */
function workerSource(workerScript: string): string {
  return (
    `${workerScript}\n` +
    ';(function () {\n' +
    '  const load = globalThis.importScripts;\n' +
    `  globalThis.importScripts = (f) => typeof f === 'string' && f.startsWith(${JSON.stringify(INLINE)}) ? (0, eval)(f.slice(${INLINE.length})) : load(f);\n` +
    '})();\n'
  );
}

/** Text of the string-only Blobs created while recording (tfjs builds both scripts from strings). */
const blobTexts = new WeakMap<Blob, string>();
const urlTexts = new Map<string, string>();

interface LoadMessage {
  cmd: 'load';
  urlOrBlob: unknown;
}

function isLoadMessage(m: unknown): m is LoadMessage {
  return typeof m === 'object' && m !== null && (m as { cmd?: unknown }).cmd === 'load';
}

/** worker_threads' Worker that can start the recorded blob: URLs (see 1. above). */
class PthreadWorker extends NodeWorker {
  constructor(url: string | URL, options?: WorkerOptions) {
    const text = urlTexts.get(String(url));
    if (text === undefined) super(url, options);
    else super(workerSource(text), { ...options, eval: true });
    this.unref();
  }

  /**
   * Emscripten refs a worker while it runs a pthread (C semantics: a running thread keeps the
   * program alive). XNNPACK's pool threads never return, so the process would never exit; the
   * main thread waits for them synchronously (Atomics.wait) and needs no event loop for them.
   */
  override ref(): void {
    // the pool's threads never keep the process alive
  }

  override postMessage(message: unknown, transferList?: Parameters<NodeWorker['postMessage']>[1]): void {
    if (isLoadMessage(message) && message.urlOrBlob instanceof Blob) {
      const text = blobTexts.get(message.urlOrBlob);
      if (text !== undefined) message = { ...message, urlOrBlob: INLINE + PRELUDE + text };
    }
    super.postMessage(message, transferList);
  }
}

/** The thread count the backend ended with, once initialised threaded (undefined otherwise). */
let activeThreads: number | undefined;

export function wasmThreadsInUse(): number | undefined {
  return activeThreads;
}

/**
 * Initialises the wasm backend ('wasm' must be registered, not yet initialised) with the
 * threaded build and `threads` threads. `init` is what initialises it (tf.setBackend('wasm')).
 * Returns init's result; throws a PolyglotError if the thread count did not take.
 */
export async function initWasmThreaded<T>(pkg: WasmPackage, threads: number, init: () => Promise<T>): Promise<T> {
  if (pkg.version_wasm !== undefined && pkg.version_wasm !== WASM_THREADS_TFJS_VERSION) {
    throw new PolyglotError(`POLYGLOT_WASM_THREADS: @tensorflow/tfjs-backend-wasm ${pkg.version_wasm} found, expected ${WASM_THREADS_TFJS_VERSION} (the Node workarounds match that version's bundle)`);
  }
  const require = createRequire(import.meta.url);
  const os = require('node:os') as { cpus: () => unknown[] };
  const RealBlob = globalThis.Blob;
  const realCreate = URL.createObjectURL.bind(URL);
  const realCpus = os.cpus;
  class RecordingBlob extends RealBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts !== undefined && parts.every((p) => typeof p === 'string')) blobTexts.set(this, parts.join(''));
    }
  }
  globalThis.Blob = RecordingBlob;
  URL.createObjectURL = (obj: Blob): string => {
    const url = realCreate(obj);
    const text = blobTexts.get(obj);
    if (text !== undefined) urlTexts.set(url, text);
    return url;
  };
  os.cpus = () => Array.from({ length: 2 * threads }, () => realCpus()[0]);
  Object.defineProperty(globalThis, 'Worker', { configurable: true, get: () => PthreadWorker, set: () => undefined });
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  pkg.setThreadsCount(threads);
  try {
    const result = await init();
    const got = pkg.getThreadsCount();
    if (got !== threads) throw new PolyglotError(`POLYGLOT_WASM_THREADS=${threads}: the threaded wasm build started ${got} thread(s)`);
    activeThreads = got;
    return result;
  } finally {
    globalThis.Blob = RealBlob;
    URL.createObjectURL = realCreate;
    os.cpus = realCpus;
    Object.defineProperty(globalThis, 'Worker', { configurable: true, writable: true, value: PthreadWorker });
  }
}
