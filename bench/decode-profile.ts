/**
 * Where one greedy decoding step's time goes (`node dist/bench/run.js xglm --profile`): every
 * kernel of the active backend is wrapped with a timer for the profiled steps, and its time is
 * booked under the kernel's name and shapes (the int8 / float32 products by weight shape, so
 * the layers' projections, FFN and the tied output projection are told apart). What the
 * kernels do not account for is tfjs' per-op dispatch in JS (engine bookkeeping, tidy, shape
 * checks) and our own host code. The logits' download and the argmax are timed on their own.
 */
import { tf } from '../core/tf.js';
import type { DecoderSession } from '../core/decoder-session.js';

interface Slot {
  ms: number;
  calls: number;
}

/** Totals per key over the profiled steps. */
export interface KernelProfile {
  steps: number;
  /** Wall time per step: session.step (graph build + kernels), then download and argmax. */
  stepMs: number;
  downloadMs: number;
  argmaxMs: number;
  /** kernel "name shapes" -> ms and calls per step. */
  kernels: { key: string; group: string; msPerStep: number; callsPerStep: number }[];
}

function shapeKey(name: string, inputs: tf.NamedTensorInfoMap, out: tf.TensorInfo | tf.TensorInfo[]): string {
  const ins = Object.values(inputs)
    .filter((t): t is tf.TensorInfo => t !== undefined && t !== null && Array.isArray((t as tf.TensorInfo).shape))
    .map((t) => `[${t.shape.join(',')}]`);
  const outs = (Array.isArray(out) ? out : [out]).map((t) => `[${t.shape.join(',')}]`);
  return `${name} ${ins.join(' ')} -> ${outs.join(' ')}`;
}

/**
 * A coarse group for a kernel call, from its name and shapes (XGLM decode, batch 1): the
 * products by what they multiply, the rest by kind.
 */
export function groupOf(name: string, inputs: tf.NamedTensorInfoMap, out: tf.TensorInfo, dModel: number, vocab: number): string {
  const outN = out.shape[out.shape.length - 1];
  const a = (inputs['a'] ?? inputs['x']) as tf.TensorInfo | undefined;
  const k = a?.shape[a.shape.length - 1];
  const isInt8 = name.startsWith('PolyglotInt8');
  const product = isInt8 || name === 'BatchMatMul' || name === '_FusedMatMul';
  if (product) {
    const kind = isInt8 ? 'int8' : 'float32';
    if (out.shape.length === 4) return 'attention products (q·kᵀ, p·v)';
    if (outN === vocab || (a !== undefined && a.shape[0] === vocab)) return `${kind} output projection (tied lm_head)`;
    if (k === dModel && outN === dModel) return `${kind} q/k/v/out projections`;
    if (k === dModel) return `${kind} fc1`;
    if (outN === dModel) return `${kind} fc2`;
    return `${kind} other products`;
  }
  if (name === 'Concat' || name === 'ConcatV2' || name === 'PadV2') return 'KV cache concat (or buffer growth)';
  if (name === 'PolyglotAttention') return 'fused attention (native)';
  if (name === 'Softmax' || name === 'Maximum') return 'softmax (+ mask clamp)';
  if (name === 'Mean' || name === 'Rsqrt' || name === 'Square') return 'layer norm (mean/var/rsqrt)';
  if (name === 'Erf') return 'gelu (erf)';
  if (name === 'Transpose' || name === 'Reshape') return 'transpose/reshape';
  if (name === 'GatherV2') return 'embedding gather';
  return `elementwise & other (${name})`;
}

/**
 * Profiles `steps` greedy steps of `session` (already fed its prompt), starting from `next`.
 * Kernels are wrapped only while profiling and restored afterwards.
 */
export function profileDecode(session: DecoderSession, next: number, steps: number, dModel: number, vocab: number): KernelProfile {
  const backendName = tf.getBackend();
  const slots = new Map<string, Slot & { group: string }>();
  const originals = tf.getKernelsForBackend(backendName);
  let depth = 0;
  for (const cfg of originals) {
    const inner = cfg.kernelFunc;
    tf.unregisterKernel(cfg.kernelName, backendName);
    tf.registerKernel({
      ...cfg,
      kernelFunc: ((args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }) => {
        depth++;
        const t0 = performance.now();
        try {
          const out = inner(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo | tf.TensorInfo[];
          const ms = performance.now() - t0;
          if (depth === 1) {
            // Only outermost kernels: one kernel calling another is booked once.
            const key = shapeKey(cfg.kernelName, args.inputs, out);
            const first = Array.isArray(out) ? out[0] : out;
            const slot = slots.get(key) ?? { ms: 0, calls: 0, group: groupOf(cfg.kernelName, args.inputs, first, dModel, vocab) };
            slot.ms += ms;
            slot.calls++;
            slots.set(key, slot);
          }
          return out;
        } finally {
          depth--;
        }
      }) as unknown as tf.KernelFunc,
    });
  }
  let stepMs = 0;
  let downloadMs = 0;
  let argmaxMs = 0;
  try {
    let token = next;
    for (let s = 0; s < steps; s++) {
      const ids = tf.tensor2d([[token]], [1, 1], 'int32');
      const t0 = performance.now();
      const logits = session.step(ids);
      const t1 = performance.now();
      const data = logits.dataSync() as Float32Array;
      const t2 = performance.now();
      let best = 0;
      for (let j = 1; j < data.length; j++) if (data[j] > data[best]) best = j;
      const t3 = performance.now();
      token = best;
      tf.dispose([ids, logits]);
      stepMs += t1 - t0;
      downloadMs += t2 - t1;
      argmaxMs += t3 - t2;
    }
  } finally {
    for (const cfg of originals) {
      tf.unregisterKernel(cfg.kernelName, backendName);
      tf.registerKernel(cfg);
    }
  }
  const kernels = [...slots.entries()]
    .map(([key, s]) => ({ key, group: s.group, msPerStep: s.ms / steps, callsPerStep: s.calls / steps }))
    .sort((x, y) => y.msPerStep - x.msPerStep);
  return { steps, stepMs: stepMs / steps, downloadMs: downloadMs / steps, argmaxMs: argmaxMs / steps, kernels };
}

function fmt(ms: number): string {
  return ms >= 10 ? ms.toFixed(1) : ms.toFixed(2);
}

/** The breakdown as report lines: groups, then the top kernels by shape. */
export function formatProfile(p: KernelProfile, top = 12): string[] {
  const total = p.stepMs + p.downloadMs + p.argmaxMs;
  const kernelMs = p.kernels.reduce((a, k) => a + k.msPerStep, 0);
  const calls = p.kernels.reduce((a, k) => a + k.callsPerStep, 0);
  const pct = (ms: number) => `${((100 * ms) / total).toFixed(1)}%`;
  const groups = new Map<string, { ms: number; calls: number }>();
  for (const k of p.kernels) {
    const g = groups.get(k.group) ?? { ms: 0, calls: 0 };
    g.ms += k.msPerStep;
    g.calls += k.callsPerStep;
    groups.set(k.group, g);
  }
  const lines = [
    `decode profile (${p.steps} steps): ${fmt(total)} ms/token = step ${fmt(p.stepMs)} (kernels ${fmt(kernelMs)}, ${calls.toFixed(0)} kernel calls; tfjs dispatch + host JS ${fmt(p.stepMs - kernelMs)}) + logits download ${fmt(p.downloadMs)} + argmax ${fmt(p.argmaxMs)}`,
  ];
  for (const [g, v] of [...groups.entries()].sort((x, y) => y[1].ms - x[1].ms)) {
    lines.push(`  ${g}: ${fmt(v.ms)} ms (${pct(v.ms)}), ${v.calls.toFixed(0)} calls`);
  }
  lines.push(`  tfjs dispatch + host JS (step minus kernels): ${fmt(p.stepMs - kernelMs)} ms (${pct(p.stepMs - kernelMs)})`);
  lines.push(`  logits download + argmax: ${fmt(p.downloadMs + p.argmaxMs)} ms (${pct(p.downloadMs + p.argmaxMs)})`);
  lines.push(`  top kernels by shape:`);
  for (const k of p.kernels.slice(0, top)) lines.push(`    ${k.key}: ${fmt(k.msPerStep)} ms, ${k.callsPerStep.toFixed(0)} calls (${fmt((1000 * k.msPerStep) / k.callsPerStep)} µs each)`);
  return lines;
}
