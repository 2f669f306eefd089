/** A second process for the hub lock test: resolves a model id and prints the snapshot folder. */
import { resolveModel } from '../hub/resolve-model.js';

const [endpoint, cacheDir, repoId] = process.argv.slice(2);
resolveModel(repoId, { endpoint, cacheDir, token: false, onLockWait: (file) => process.stderr.write(`waiting for ${file}\n`) }).then(
  (dir) => process.stdout.write(`${dir}\n`),
  (e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  },
);
