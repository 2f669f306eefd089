/**
 * A local stand-in for the Hugging Face Hub's resolve protocol, for tests (127.0.0.1 only, port 0,
 * started and stopped by the test). It serves fixture folders as repos:
 *   HEAD/GET /{org}/{name}/resolve/{revision}/{file}
 * - small files: 200, ETag = git blob sha1, Content-Length, X-Repo-Commit;
 * - LFS files (weights, sentencepiece models): 302 to a second server on another port (a "CDN",
 *   so another host as far as the token rule goes), with X-Linked-Etag = sha256, X-Linked-Size;
 * - Range requests (206 + Content-Range), optionally dropping the connection half-way once;
 * - 401 GatedRepo without the right token, 401 RepoNotFound, 404 RevisionNotFound / EntryNotFound
 *   (with X-Repo-Commit), a 307 relative redirect for a renamed repo.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

export interface RepoSpec {
  /** branch/tag name -> files (name -> bytes); each distinct set becomes a commit. */
  revisions: Record<string, Record<string, Buffer>>;
  /** Only requests with `authorization: Bearer <token>` get in (GatedRepo otherwise). */
  gatedToken?: string;
}

export interface LoggedRequest {
  method: string;
  url: string;
  /** Which server answered: the endpoint or the CDN. */
  server: 'endpoint' | 'cdn';
  authorization?: string;
  range?: string;
}

const LFS = /\.(safetensors|bin|model)$/;

/** A fixture folder's files (not its reference/ outputs). */
export function fixtureFiles(dir: string): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (const name of fs.readdirSync(dir)) {
    const p = path.join(dir, name);
    if (fs.statSync(p).isFile()) files[name] = fs.readFileSync(p);
  }
  return files;
}

export function sha256(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

/** Git's blob id: sha1("blob <size>\0" + content), the hub's ETag of a regular file. */
export function gitBlobSha1(b: Buffer): string {
  return crypto.createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
}

function commitOf(repoId: string, files: Record<string, Buffer>): string {
  const h = crypto.createHash('sha1').update(repoId);
  for (const name of Object.keys(files).sort()) h.update(name).update(gitBlobSha1(files[name]));
  return h.digest('hex');
}

export class HubTestServer {
  readonly requests: LoggedRequest[] = [];
  /** file name -> byte count after which the CDN drops the connection (once per entry). */
  readonly dropAfter = new Map<string, number>();
  /** Extra delay per 64 KiB chunk on the CDN, to make two downloads overlap. */
  chunkDelayMs = 0;
  endpoint = '';
  private cdnBase = '';
  private readonly api = http.createServer((req, res) => this.onEndpoint(req, res));
  private readonly cdn = http.createServer((req, res) => this.onCdn(req, res));
  private readonly commits = new Map<string, { repoId: string; files: Record<string, Buffer> }>();
  private readonly blobsBySha = new Map<string, { name: string; bytes: Buffer }>();

  constructor(
    private readonly repos: Record<string, RepoSpec>,
    /** old repo id -> new one, answered with a relative 307 like a renamed repo. */
    private readonly renamed: Record<string, string> = {},
  ) {
    for (const [repoId, spec] of Object.entries(repos)) {
      for (const files of Object.values(spec.revisions)) {
        this.commits.set(commitOf(repoId, files), { repoId, files });
        for (const [name, bytes] of Object.entries(files)) if (LFS.test(name)) this.blobsBySha.set(sha256(bytes), { name, bytes });
      }
    }
  }

  commit(repoId: string, revision: string): string {
    return commitOf(repoId, this.repos[repoId].revisions[revision]);
  }

  async start(): Promise<this> {
    const listen = (s: http.Server): Promise<number> =>
      new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
    this.endpoint = `http://127.0.0.1:${await listen(this.api)}`;
    this.cdnBase = `http://127.0.0.1:${await listen(this.cdn)}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of [this.api, this.cdn]) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  }

  private log(req: http.IncomingMessage, server: 'endpoint' | 'cdn'): void {
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', server, authorization: req.headers.authorization, range: req.headers.range });
  }

  private fail(res: http.ServerResponse, status: number, code: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { 'x-error-code': code, 'content-type': 'text/plain', ...extra });
    res.end(code);
  }

  private onEndpoint(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.log(req, 'endpoint');
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(req.url ?? '');
    if (!m) return this.fail(res, 404, 'NotFound');
    const [, repoId, revEnc, fileEnc] = m;
    const revision = decodeURIComponent(revEnc);
    const file = fileEnc.split('/').map(decodeURIComponent).join('/');
    if (this.renamed[repoId]) {
      res.writeHead(307, { location: `/${this.renamed[repoId]}/resolve/${revEnc}/${fileEnc}` });
      return void res.end();
    }
    const spec = this.repos[repoId];
    if (!spec) return this.fail(res, 401, 'RepoNotFound');
    if (spec.gatedToken !== undefined && req.headers.authorization !== `Bearer ${spec.gatedToken}`) return this.fail(res, 401, 'GatedRepo');
    const commit = spec.revisions[revision] ? this.commit(repoId, revision) : this.commits.get(revision)?.repoId === repoId ? revision : undefined;
    if (commit === undefined) return this.fail(res, 404, 'RevisionNotFound');
    const bytes = (this.commits.get(commit) as { files: Record<string, Buffer> }).files[file];
    if (bytes === undefined) return this.fail(res, 404, 'EntryNotFound', { 'x-repo-commit': commit });
    if (LFS.test(file)) {
      const sha = sha256(bytes);
      res.writeHead(302, {
        location: `${this.cdnBase}/cdn/${sha}`,
        'x-repo-commit': commit,
        'x-linked-etag': `"${sha}"`,
        'x-linked-size': String(bytes.length),
        etag: '"redirect-etag"',
        'content-length': '0',
      });
      return void res.end();
    }
    this.send(req, res, bytes, { 'x-repo-commit': commit, etag: `"${gitBlobSha1(bytes)}"` }, file);
  }

  private onCdn(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.log(req, 'cdn');
    const m = /^\/cdn\/([0-9a-f]{64})$/.exec(req.url ?? '');
    const blob = m ? this.blobsBySha.get(m[1]) : undefined;
    if (!blob) return this.fail(res, 404, 'NotFound');
    this.send(req, res, blob.bytes, { etag: `"${m?.[1]}"` }, blob.name);
  }

  /** Serves bytes with Range support; drops the connection half-way when dropAfter says so. */
  private send(req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer, headers: Record<string, string>, name: string): void {
    let start = 0;
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      if (start >= bytes.length) {
        res.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
        return void res.end();
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    }
    res.writeHead(status, { ...headers, 'content-length': String(bytes.length - start), 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();
    const drop = this.dropAfter.get(name);
    let end = bytes.length;
    if (drop !== undefined && drop > start) {
      this.dropAfter.delete(name);
      end = drop;
    }
    const writeFrom = (at: number): void => {
      if (at >= end) {
        if (end < bytes.length) req.socket.end(); // the connection drops mid-file (after the bytes sent so far)
        else res.end();
        return;
      }
      const next = Math.min(end, at + 65536);
      res.write(bytes.subarray(at, next));
      if (this.chunkDelayMs > 0) setTimeout(() => writeFrom(next), this.chunkDelayMs);
      else setImmediate(() => writeFrom(next));
    };
    writeFrom(start);
  }
}
