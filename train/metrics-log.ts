/**
 * `metrics.jsonl`: one JSON record a line (train steps, evaluations, checkpoints, resumes).
 * A resumed run first cuts the file back to its checkpoint's step (atomically), so the file
 * holds one history: the steps after the checkpoint that the interrupted run logged are
 * replaced by the resumed run's, never repeated.
 */
import * as fs from 'node:fs';
import { writeAll, writeFileAtomic } from '../convert/atomic.js';

export class MetricsLog {
  constructor(readonly file: string) {}

  append(r: Record<string, unknown>): void {
    fs.appendFileSync(this.file, `${JSON.stringify(r)}\n`);
  }

  /** Starts an empty history. */
  reset(): void {
    fs.rmSync(this.file, { force: true });
  }

  /** Keeps the records up to `step` (a resume point); unreadable lines (a torn last write) are dropped. */
  truncateAfter(step: number): void {
    if (!fs.existsSync(this.file)) return;
    const kept: string[] = [];
    for (const line of fs.readFileSync(this.file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let r: { step?: unknown };
      try {
        r = JSON.parse(line) as { step?: unknown };
      } catch {
        continue;
      }
      if (typeof r.step === 'number' && r.step <= step) kept.push(line);
    }
    writeFileAtomic(this.file, (fd) => writeAll(fd, Buffer.from(kept.map((l) => `${l}\n`).join(''), 'utf8')));
  }
}
