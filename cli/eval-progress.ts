/**
 * `polyglot eval` progress: batches, examples, tokens/s and ETA on stderr while the held-out
 * loss is computed (a large file takes minutes, which looked like a hang with no output).
 */
import type { HostBatch } from '../index.js';
import { formatDuration } from './train-progress.js';
import { progressLine } from './progress-line.js';

/** Passes `batches` through unchanged, reporting after each one the consumer has finished. */
export function* withEvalProgress(
  batches: Iterable<HostBatch>,
  totalExamples: number,
  line = progressLine(),
): Generator<HostBatch> {
  const t0 = Date.now();
  let n = 0;
  let examples = 0;
  let tokens = 0;
  for (const b of batches) {
    yield b;
    n++;
    examples += Object.values(b.arrays)[0]?.shape[0] ?? 0;
    tokens += b.tokens;
    const secs = Math.max((Date.now() - t0) / 1000, 1e-9);
    const eta = examples > 0 ? (secs * (totalExamples - examples)) / examples : NaN;
    line.update(
      examples,
      totalExamples,
      `eval: batch ${n}, ${examples}/${totalExamples} examples, ${(tokens / secs).toFixed(0)} tokens/s, ETA ${formatDuration(Math.max(eta, 0))}`,
    );
  }
}
