import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireLock } from '../hub/file-lock.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hublock-'));
const old = new Date(Date.now() - 60_000);

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the empty lock file Python leaves behind is taken over once old; release removes only our own lock', async () => {
  const file = path.join(tmp, '.locks', 'models--a--b', 'abc.lock');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
  fs.utimesSync(file, old, old);
  const lock = await acquireLock(file, { timeoutMs: 2000 });
  assert.match(fs.readFileSync(file, 'utf8'), new RegExp(`^${os.hostname()} ${process.pid} [0-9a-f]{12}$`));
  lock.release();
  assert.not.ok(fs.existsSync(file));
});

test('a lock of a dead process on this host is taken over at once; a live one is waited for', async () => {
  const file = path.join(tmp, 'dead.lock');
  fs.writeFileSync(file, `${os.hostname()} 999999999 abcdef`); // no such pid
  (await acquireLock(file, { timeoutMs: 2000 })).release();

  const live = path.join(tmp, 'live.lock');
  fs.writeFileSync(live, `${os.hostname()} ${process.ppid} abcdef`); // our parent: alive, fresh
  let waited = false;
  const t0 = Date.now();
  try {
    await acquireLock(live, { timeoutMs: 300, onWait: () => (waited = true) });
    assert.unreachable('a live lock must not be taken');
  } catch (e) {
    assert.match((e as Error).message, /still locked by another download after 0 s; if no other process is downloading, delete this file$/);
  }
  assert.ok(waited && Date.now() - t0 >= 300);
  assert.is(fs.readFileSync(live, 'utf8'), `${os.hostname()} ${process.ppid} abcdef`, 'left untouched');
});

test.run();
