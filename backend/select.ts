/**
 * Picks the compute backend at run time. `auto` prefers native TensorFlow
 * (@tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node: optional dependencies that
 * cannot install offline), then wasm, then the pure-JS cpu backend.
 */
import { tf } from '../core/tf.js';
import { PolyglotError } from '../core/errors.js';

export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

// Kept in variables so tsc does not try to resolve packages that may be absent.
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

async function tryNative(): Promise<string | undefined> {
  for (const pkg of NATIVE_PACKAGES) {
    try {
      await import(pkg);
      if (await tf.setBackend('tensorflow')) return pkg;
    } catch {
      // module missing, or its libtensorflow binding missing: try the next one
    }
  }
  return undefined;
}

let wasmSetup: Promise<void> | undefined;
async function tryWasm(): Promise<boolean> {
  try {
    wasmSetup ??= (async () => {
      await import(WASM_PACKAGE);
      const { registerWasmKernels } = await import('./wasm-kernels.js');
      registerWasmKernels();
    })();
    await wasmSetup;
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
    if (!(await tryNative())) {
      throw new PolyglotError('backend "tensorflow": neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node could be loaded (they download libtensorflow at install time; install one with internet access)');
    }
  } else if (name === 'wasm') {
    if (!(await tryWasm())) throw new PolyglotError('backend "wasm": @tensorflow/tfjs-backend-wasm failed to initialise');
  } else if (name === 'cpu') {
    await tf.setBackend('cpu');
  } else if (!(await tryNative()) && !(await tryWasm())) {
    await tf.setBackend('cpu');
  }
  await tf.ready();
  return tf.getBackend();
}
