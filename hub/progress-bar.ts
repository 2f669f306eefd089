/**
 * Download progress on stderr: file, bytes, percent, rate and ETA. On a terminal one line per
 * file is redrawn in place (at most 10 times a second); otherwise (logs, CI) one line is printed
 * when a file is done.
 */
import { formatBytes } from '../core/format-bytes.js';
import type { DownloadProgress, ProgressCallback } from './download-blob.js';

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.round(s);
  return t >= 3600 ? `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m` : t >= 60 ? `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}

/** One progress line: `model.safetensors  5.0 MiB / 10.0 MiB  50%  2.5 MiB/s  ETA 2s`. */
export function progressLine(p: DownloadProgress, elapsedMs: number): string {
  const pct = p.total > 0 ? Math.floor((100 * p.loaded) / p.total) : 100;
  const rate = elapsedMs > 0 ? ((p.loaded - p.resumedFrom) * 1000) / elapsedMs : 0;
  const tail = p.done ? `in ${formatSeconds(elapsedMs / 1000)}` : `ETA ${rate > 0 ? formatSeconds((p.total - p.loaded) / rate) : '?'}`;
  const resumed = p.resumedFrom > 0 ? ` (resumed at ${formatBytes(p.resumedFrom)})` : '';
  return `${p.repoId}: ${p.file}  ${formatBytes(p.loaded)} / ${formatBytes(p.total)}  ${pct}%  ${formatBytes(Math.round(rate))}/s  ${tail}${resumed}`;
}

export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): ProgressCallback {
  const started = new Map<string, number>();
  let lastDraw = 0;
  return (p) => {
    const key = `${p.repoId}/${p.file}`;
    const now = Date.now();
    if (!started.has(key)) started.set(key, now);
    const elapsed = now - (started.get(key) as number);
    if (stream.isTTY) {
      if (!p.done && now - lastDraw < 100) return;
      lastDraw = now;
      stream.write(`\r\x1b[K${progressLine(p, elapsed)}${p.done ? '\n' : ''}`);
    } else if (p.done) {
      stream.write(`${progressLine(p, elapsed)}\n`);
    }
    if (p.done) started.delete(key);
  };
}
