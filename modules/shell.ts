/**
 * shell: run a script through `sh -c` (or another `executable`), for pipes, redirections and
 * `&&`. Everything else (creates/removes, chdir, env, stdin, become_user, results) is the
 * command module's, run with argv `[executable, -c, cmd]`.
 *
 * The script text is written by the playbook's author, so it is the one place where quoting
 * is the author's job: a variable rendered into it must go through the `quote` filter
 * (`cmd: "grep -c {{ pattern | quote }} {{ file | quote }}"`), or better, travel as data via
 * `env` (`cmd: 'grep -c "$PATTERN" "$FILE"'` with `env: {PATTERN: ..., FILE: ...}`), which
 * needs no quoting at all.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule } from '../src/module-kit/contract.js';
import { commonProperties, runArgv } from './command.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['cmd'],
  properties: {
    cmd: { type: 'string', minLength: 1 },
    executable: { type: 'string', minLength: 1, description: 'The shell to run the script with; `/bin/bash` for `set -o pipefail` and arrays.' },
    ...commonProperties,
  },
} as const;

/** The arguments, as the schema declares them. */
export type ShellParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

/** The argv a shell task runs. The script is one argv word: nothing is glued around it. */
export function shellArgv(p: Pick<ShellParams, 'cmd' | 'executable'>): string[] {
  return [p.executable ?? '/bin/sh', '-c', p.cmd];
}

export const shell = defineModule<ShellParams>({
  name: 'shell',
  freeForm: 'cmd',
  schema,
  async run(ctx, p) {
    return runArgv(ctx, shellArgv(p), p);
  },
});
