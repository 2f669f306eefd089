/**
 * What the fused native LayerNorm and GELU kernels (native-layer-norm.ts, native-gelu.ts;
 * native/src/norm*) share: whether they run now, and their registration as wasm kernels.
 * They replace chains of small tfjs ops in eager mode only (graph export and the cpu / plain
 * wasm paths keep the tfjs compositions). Opt-in for now: `POLYGLOT_FUSED_OPS=1` (or `setFusedOpsEnabled`)
 * turns them on, so benchmarks can compare before and after in one build.
 */
import { tf } from '../core/tf.js';
import { nativeAddon, type NativeAddon } from './native.js';

// Off unless POLYGLOT_FUSED_OPS=1 until the tests of issue 14's fused-ops work exist (untested so far).
let enabled = process.env.POLYGLOT_FUSED_OPS === '1';

export function setFusedOpsEnabled(on: boolean): void {
  enabled = on;
}

/** The addon when the fused kernels apply to a float32 tensor now (addon loaded, wasm backend active, not switched off). */
export function fusedOpsAddon(x: tf.Tensor): NativeAddon | undefined {
  if (!enabled || x.dtype !== 'float32' || tf.getBackend() !== 'wasm') return undefined;
  return nativeAddon();
}

/** Fused kernel calls so far, by kernel name (tests check the native path really ran). */
export const fusedOpsCalls = new Map<string, number>();

export function countFusedCall(kernelName: string): void {
  fusedOpsCalls.set(kernelName, (fusedOpsCalls.get(kernelName) ?? 0) + 1);
}

const registered = new Set<string>();

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Registers a wasm kernel once (kernels without setup run on an already initialised backend). */
export function registerFusedKernel(kernelName: string, kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[]): void {
  if (registered.has(kernelName)) return;
  registered.add(kernelName);
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}
