/**
 * A corpus of text files read by line without holding them in memory: one streaming pass
 * builds an index of byte offsets (blank lines skipped), then any line is read on demand
 * with a positional read. Shuffling and resuming work on line numbers of this index.
 */
import * as fs from 'node:fs';
import { PolyglotError } from '../../core/errors.js';

class Growable<T extends Float64Array | Uint32Array | Uint16Array> {
  n = 0;
  constructor(public data: T, private readonly make: (n: number) => T) {}
  push(v: number): void {
    if (this.n === this.data.length) {
      const d = this.make(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.n++] = v;
  }
  done(): T {
    return this.data.subarray(0, this.n) as T;
  }
}

const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a || b === 0x0b || b === 0x0c;

export class LineCorpus {
  private readonly fds: number[];
  private buf = Buffer.alloc(1 << 16);

  private constructor(
    readonly files: string[],
    private readonly starts: Float64Array,
    private readonly lengths: Uint32Array,
    private readonly lineNos: Uint32Array,
    private readonly fileIds: Uint16Array,
  ) {
    this.fds = files.map((f) => fs.openSync(f, 'r'));
  }

  /** Streams every file once to index its non-blank lines. */
  static async open(files: string[], opts: { chunkBytes?: number } = {}): Promise<LineCorpus> {
    if (files.length === 0) throw new PolyglotError('data: expected at least one data file, found none');
    if (files.length > 65535) throw new PolyglotError(`data: at most 65535 files, found ${files.length}`);
    const starts = new Growable(new Float64Array(1024), (n) => new Float64Array(n));
    const lengths = new Growable(new Uint32Array(1024), (n) => new Uint32Array(n));
    const lineNos = new Growable(new Uint32Array(1024), (n) => new Uint32Array(n));
    const fileIds = new Growable(new Uint16Array(1024), (n) => new Uint16Array(n));
    for (let f = 0; f < files.length; f++) {
      const file = files[f];
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new PolyglotError(`${file}: data file not found`);
      let pos = 0; // absolute offset of the current chunk
      let lineStart = 0;
      let lineNo = 1;
      let nonBlank = false;
      const end = (at: number) => {
        if (nonBlank) {
          if (at - lineStart > 0xffffffff) throw new PolyglotError(`${file}:${lineNo}: line longer than 4 GiB`);
          starts.push(lineStart);
          lengths.push(at - lineStart);
          lineNos.push(lineNo);
          fileIds.push(f);
        }
        lineNo++;
        nonBlank = false;
      };
      for await (const chunk of fs.createReadStream(file, { highWaterMark: opts.chunkBytes ?? 1 << 20 }) as AsyncIterable<Buffer>) {
        let p = 0;
        while (p < chunk.length) {
          if (!nonBlank) {
            while (p < chunk.length && isSpace(chunk[p]) && chunk[p] !== 0x0a) p++;
            if (p < chunk.length && chunk[p] !== 0x0a) nonBlank = true;
          }
          const nl = chunk.indexOf(0x0a, p);
          if (nl < 0) {
            p = chunk.length;
            break;
          }
          end(pos + nl);
          p = nl + 1;
          lineStart = pos + p;
        }
        pos += chunk.length;
      }
      end(pos);
    }
    return new LineCorpus(files, starts.done(), lengths.done(), lineNos.done(), fileIds.done());
  }

  /** Number of non-blank lines over all files. */
  get size(): number {
    return this.starts.length;
  }

  /** `file:line` of example i, for messages. */
  where(i: number): string {
    return `${this.files[this.fileIds[i]]}:${this.lineNos[i]}`;
  }

  /** The file example i comes from. */
  file(i: number): string {
    return this.files[this.fileIds[i]];
  }

  /** The text of example i (without the line break). */
  line(i: number): string {
    if (!(i >= 0 && i < this.size)) throw new PolyglotError(`data: line index ${i} out of range (corpus has ${this.size} lines)`);
    const len = this.lengths[i];
    if (this.buf.length < len) this.buf = Buffer.alloc(Math.max(len, this.buf.length * 2));
    const fd = this.fds[this.fileIds[i]];
    let got = 0;
    while (got < len) {
      const n = fs.readSync(fd, this.buf, got, len - got, this.starts[i] + got);
      if (n === 0) throw new PolyglotError(`${this.where(i)}: file changed since it was indexed (short read)`);
      got += n;
    }
    let s = this.buf.toString('utf8', 0, len);
    if (s.endsWith('\r')) s = s.slice(0, -1);
    if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    return s;
  }

  close(): void {
    for (const fd of this.fds) fs.closeSync(fd);
    this.fds.length = 0;
  }
}
