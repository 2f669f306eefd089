/**
 * `--revision` and model-id resolution for every command that takes a model: a directory is used
 * as it is; an ORG/NAME id is looked up in the hub cache and downloaded into it when files are
 * missing (progress on stderr; HF_HUB_OFFLINE=1 forbids the network).
 */
import type { Argv } from 'yargs';
import { resolveModel, stderrProgress } from '../index.js';

export interface ModelSourceArgs {
  revision?: string;
  quiet?: boolean;
}

export function withRevision<T>(y: Argv<T>): Argv<T & ModelSourceArgs> {
  return y.option('revision', { type: 'string', describe: 'branch, tag or commit of a hub model id (default main)' }) as unknown as Argv<T & ModelSourceArgs>;
}

/** The local folder of a model argument (downloading an ORG/NAME id first when needed). */
export function modelDirOf(idOrDir: string, args: ModelSourceArgs): Promise<string> {
  return resolveModel(idOrDir, {
    revision: args.revision,
    onProgress: args.quiet ? undefined : stderrProgress(),
    onLockWait: (file) => process.stderr.write(`${idOrDir}: ${file}: another process is downloading it, waiting\n`),
  });
}
