/**
 * Run several argv commands in one round trip. The script text is made only of positional
 * references ("${1}" "${2}" ...) generated from the commands' lengths; every value travels as
 * an argument, so nothing a user wrote ever becomes script text.
 */
import { script, type Command } from '../command.js';
import type { ModuleContext } from './contract.js';

/** One Command running `cmds` in order, stopping at the first failure. */
export function sequence(cmds: readonly (readonly string[])[]): Command {
  if (cmds.length === 0) throw new Error('sequence: no commands');
  let n = 0;
  const lines = cmds.map((c) => {
    if (c.length === 0) throw new Error('sequence: empty command');
    return c.map(() => `"\${${++n}}"`).join(' ');
  });
  return script(`set -e\n${lines.join('\n')}\n`, ...cmds.flat());
}

/** Run `cmds` in one exec; returns the error text (stderr) when one failed, else undefined. */
export async function runSequence(ctx: ModuleContext, cmds: readonly (readonly string[])[]): Promise<string | undefined> {
  const res = await ctx.exec(sequence(cmds));
  if (res.code === 0) return undefined;
  return (res.stderr.trim() || res.stdout.trim() || `exit code ${res.code}`).replace(/\s*\n\s*/g, '; ');
}
