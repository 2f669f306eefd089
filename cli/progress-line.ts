/**
 * A progress line on stderr for long commands (translate, eval): redrawn in place on a terminal;
 * in a log (not a TTY) whole lines only, about every 10% and at the end, never a bare "\r".
 */
export interface ProgressLine {
  /** `done` of `total` units finished; `text` is the whole line to show. */
  update(done: number, total: number, text: string): void;
}

export function progressLine(stream: NodeJS.WriteStream = process.stderr): ProgressLine {
  let lastTenth = 0;
  return {
    update(done, total, text) {
      const finished = done >= total;
      if (stream.isTTY) {
        stream.write(`\r\x1b[K${text}${finished ? '\n' : ''}`);
        return;
      }
      const tenth = Math.floor((10 * done) / Math.max(total, 1));
      if (finished || tenth > lastTenth) stream.write(`${text}\n`);
      lastTenth = tenth;
    },
  };
}
