/** Every `polyglot` command; each lives in its own file. */
import type { CommandModule } from 'yargs';
import { verifyCommand } from './verify.js';
import { tokenizeCommand } from './tokenize.js';
import { exportCommand } from './export.js';
import { infoCommand } from './info.js';
import { convertCommand } from './convert.js';
import { generateCommand } from './generate.js';
import { translateCommand } from './translate.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { initCommand } from './init.js';
import { demoCommand } from './demo.js';
import { exportHfCommand } from './export-hf.js';
import { quantizeCommand } from './quantize.js';
import { upcycleCommand } from './upcycle.js';

export const commands: CommandModule<object, never>[] = [verifyCommand as never, tokenizeCommand as never, exportCommand as never, infoCommand as never, convertCommand as never, generateCommand as never, translateCommand as never, trainCommand as never, evalCommand as never, initCommand as never, demoCommand as never, exportHfCommand as never, quantizeCommand as never, upcycleCommand as never];
