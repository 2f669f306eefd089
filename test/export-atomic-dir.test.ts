/** Issue 10 item 7: a full disk during export is one line naming the output, and the old export survives. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PolyglotError } from '../core/errors.js';
import { writeDirAtomically } from '../export/atomic-dir.js';

test('ENOSPC while filling the output: PolyglotError naming it; an existing output is intact', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-dir-'));
  const out = path.join(tmp, 'export');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'model.json'), 'old');
  const full = (): never => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  try {
    await writeDirAtomically(out, true, full);
    assert.unreachable('expected an error');
  } catch (e) {
    assert.ok(e instanceof PolyglotError, String(e));
    assert.is((e as Error).message, `${out}: cannot write the output (ENOSPC: ENOSPC: no space left on device, write); the existing ${out} is intact`);
  }
  assert.is(fs.readFileSync(path.join(out, 'model.json'), 'utf8'), 'old');
  assert.equal(fs.readdirSync(tmp), ['export'], 'no temporary folder left');
  fs.rmSync(tmp, { recursive: true, force: true });
});

test.run();
