/**
 * Picks the compute backend at run time. `auto` prefers native TensorFlow
 * (@tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node: optional dependencies that
 * download libtensorflow at install time and so are usually absent offline), then
 * wasm (with our kernels, backend/wasm-kernels.ts), then the pure-JS cpu backend.
 * Prints nothing: the CLI prints the chosen backend.
 */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';
import { registerCpuKernels } from './cpu-kernels.js';
import { initWasmThreaded, requestedWasmThreads, wasmThreadsInUse, type WasmPackage } from './wasm-threads.js';
import { initialisedWasmBackend } from './wasm-backend.js';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

// Kept in variables so tsc does not try to resolve packages that may be absent.
export const NATIVE_PACKAGES: readonly string[] = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';
const NATIVE_BACKEND = 'tensorflow';

type EngineRegistries = { registry: Record<string, unknown>; registryFactory: Record<string, unknown> };

function engineRegistries(): EngineRegistries {
  return tf.engine() as unknown as EngineRegistries;
}

/**
 * Forgets a 'tensorflow' backend left registered by a package whose import failed
 * part-way (tfjs-node registers kernels and can register its backend before its
 * missing binding throws). Otherwise the next package's registration would be ignored
 * ("already registered") and `auto` could later pick the broken one.
 */
function forgetBrokenNative(): void {
  const eng = engineRegistries();
  if (NATIVE_BACKEND in eng.registryFactory && !(NATIVE_BACKEND in eng.registry)) {
    tf.removeBackend(NATIVE_BACKEND);
  }
}

/**
 * Tries native packages in order; the first that imports and initialises wins (all
 * register the backend name 'tensorflow'). Returns the package name, or undefined.
 * Module-not-found, missing libtensorflow bindings and failed initialisation are all
 * "not available". Exported for tests (which pass a stand-in module).
 */
export async function tryNativePackages(packages: readonly string[] = NATIVE_PACKAGES): Promise<string | undefined> {
  if (NATIVE_BACKEND in engineRegistries().registry) {
    if (await tf.setBackend(NATIVE_BACKEND)) return NATIVE_BACKEND;
  }
  for (const pkg of packages) {
    try {
      await import(pkg);
    } catch {
      forgetBrokenNative();
      continue;
    }
    try {
      if (await tf.setBackend(NATIVE_BACKEND)) return pkg;
    } catch {
      // initialisation threw: fall through
    }
    forgetBrokenNative();
  }
  return undefined;
}

/**
 * tfjs-backend-cpu prints a "install our node backend" banner on its first write in
 * Node; tfjs-node cannot install offline, and this module prints nothing, so it is
 * marked as already shown (the backend's own `firstUse` flag).
 */
async function setCpu(): Promise<void> {
  registerCpuKernels();
  await tf.setBackend('cpu');
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu !== null && cpu.firstUse === true) cpu.firstUse = false;
}

let wasmSetup: Promise<WasmPackage> | undefined;
async function tryWasm(): Promise<boolean> {
  let pkg: WasmPackage;
  try {
    wasmSetup ??= (async () => {
      const mod = (await import(WASM_PACKAGE)) as WasmPackage;
      const { registerWasmKernels } = await import('./wasm-kernels.js');
      registerWasmKernels();
      return mod;
    })();
    pkg = await wasmSetup;
  } catch {
    wasmSetup = undefined;
    return false;
  }
  // POLYGLOT_WASM_THREADS=N: the threaded build, if the backend is not initialised yet (a
  // wrong value or a failed start is an error, not a silent single-threaded run).
  const threads = requestedWasmThreads();
  if (threads !== undefined && wasmThreadsInUse() === undefined && initialisedWasmBackend() === undefined) {
    return await initWasmThreaded(pkg, threads, () => tf.setBackend('wasm'));
  }
  try {
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

/** Activates a backend and returns its tfjs name ('tensorflow' | 'wasm' | 'cpu'). */
export async function selectBackend(name: BackendName = 'auto'): Promise<string> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new PolyglotError(`--backend: expected one of ${BACKEND_NAMES.join(', ')}, found "${name}"`);
  }
  if (name === 'tensorflow') {
    if ((await tryNativePackages()) === undefined) {
      throw new PolyglotError('backend "tensorflow": neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node could be loaded (they download libtensorflow at install time; install one with internet access)');
    }
  } else if (name === 'wasm') {
    if (!(await tryWasm())) throw new PolyglotError('backend "wasm": @tensorflow/tfjs-backend-wasm failed to initialise');
  } else if (name === 'cpu') {
    await setCpu();
  } else if ((await tryNativePackages()) === undefined && !(await tryWasm())) {
    await setCpu();
  }
  await tf.ready();
  return tf.getBackend();
}
