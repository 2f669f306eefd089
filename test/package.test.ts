/**
 * The published package (issue 9 item 17): `npm pack` ships the compiled library, CLI, examples,
 * docs, README and the Apache-2.0 LICENSE, and nothing of the tests, benches or fixtures;
 * `exports` names the types; the native tfjs packages are optional peers, not dependencies
 * every consumer's install would try to download.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { packageRoot } from './paths.js';

const root = packageRoot();
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;

test('npm pack lists only what a user needs', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
  for (const must of ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/polyglot.js']) assert.ok(files.includes(must), `missing ${must}`);
  const unwanted = files.filter((f) => /^(dist\/)?(test|bench)\/|fixtures|\.tsbuildinfo$|^scripts\/|^\.ci\//.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
  assert.equal(unwanted, []);
});

test('LICENSE is the full Apache-2.0 text the package declares', () => {
  assert.is(pkg.license, 'Apache-2.0');
  const text = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
  assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
});

test('exports map with types; native backends are optional peers', () => {
  const dot = (pkg.exports as Record<string, { types?: string; import?: string }>)['.'];
  assert.is(dot.types, './dist/index.d.ts');
  assert.is(dot.import, './dist/index.js');
  assert.ok(pkg.repository && pkg.bugs, 'repository and bugs');
  assert.is(pkg.optionalDependencies, undefined);
  const peers = pkg.peerDependencies as Record<string, string>;
  const meta = pkg.peerDependenciesMeta as Record<string, { optional?: boolean }>;
  for (const n of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
    assert.ok(peers[n], `${n} peer`);
    assert.is(meta[n]?.optional, true, `${n} optional`);
  }
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { peerDependencies?: unknown }> };
  assert.equal(lock.packages[''].peerDependencies, peers, 'package-lock.json agrees with package.json');
});

test.run();
