// `npm install` / `npm ci` step: builds the native kernels (native/, N-API) with node-gyp
// and the machine's C++ compiler, against the running Node's own headers (never
// downloaded). Failure never fails the install: the addon is optional and the wasm
// kernels are used without it (backend/native.ts says so in one line at run time).
// POLYGLOT_NATIVE=0 skips the build.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(root, 'native');
const logFile = path.join(nativeDir, 'build.log');

function say(msg) {
  process.stderr.write(`polyglot: ${msg}\n`);
}

/** node-gyp: the one npm runs scripts with, else the one bundled with npm beside this node. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c !== undefined && c !== '' && fs.existsSync(c));
}

/** Directory holding include/node/node_api.h for this node, so node-gyp downloads nothing. */
function findNodeDir() {
  const configured = process.env.npm_config_nodedir;
  const candidates = [configured, path.resolve(path.dirname(process.execPath), '..')];
  return candidates.find((d) => d !== undefined && d !== '' && fs.existsSync(path.join(d, 'include', 'node', 'node_api.h')));
}

function main() {
  if (process.env.POLYGLOT_NATIVE === '0') {
    say('POLYGLOT_NATIVE=0: native kernels not built (wasm kernels will be used)');
    return;
  }
  const gyp = findNodeGyp();
  const nodedir = findNodeDir();
  if (gyp === undefined || nodedir === undefined) {
    say(`native kernels not built: ${gyp === undefined ? 'node-gyp not found' : 'Node headers (include/node/node_api.h) not found'}; wasm kernels will be used`);
    return;
  }
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--jobs=2'], {
    cwd: nativeDir,
    encoding: 'utf8',
    env: { ...process.env, npm_config_nodedir: nodedir },
  });
  fs.writeFileSync(logFile, `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`);
  if (r.status !== 0) {
    say(`native kernels not built (node-gyp failed, see native/build.log); wasm kernels will be used`);
  }
}

try {
  main();
} catch (e) {
  say(`native kernels not built (${e instanceof Error ? e.message : String(e)}); wasm kernels will be used`);
}
