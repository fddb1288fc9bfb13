/**
 * queue_restart: restart an app's Laravel queue workers gracefully and wait until every one of
 * them runs again, in the release folder given (`current`). `artisan queue:restart` asks each
 * worker to exit once its current job is done; supervisord starts it again from `current`. The
 * module notes the workers' process ids first and waits until each has been replaced by a
 * RUNNING process in the folder, so a worker that started just before the request (and will
 * exit for it) is not taken for a restarted one. Workers that crash at boot (FATAL) fail the
 * task with what they printed last: a release, rollback or env push never reports success while
 * its jobs are not being processed.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { argv } from '../src/command.js';
import { defineModule } from '../src/module-kit/contract.js';
import { runAction } from '../src/module-kit/operation.js';
import { PROGRAM_NAME, supervisorRpc } from '../src/module-kit/supervisor-rpc.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['programs', 'dir', 'php', 'user'],
  properties: {
    programs: { type: 'array', minItems: 1, items: { type: 'string', pattern: PROGRAM_NAME.source }, description: "The workers' supervisor programs." },
    dir: { type: 'string', pattern: '^/', description: 'The release folder the workers must run in (links resolved); artisan runs there.' },
    php: { type: 'string', pattern: '^/', description: 'The PHP binary that runs artisan.' },
    user: { type: 'string', pattern: '^[a-z_][a-z0-9_-]*$', description: 'The app user artisan runs as.' },
    timeout: { type: 'integer', minimum: 0, default: 60, description: "Seconds to wait at most: the longest a job may take, plus the workers' start." },
  },
} as const;

/** The arguments, as the schema declares them. */
export type QueueRestartParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export const queue_restart = defineModule<QueueRestartParams>({
  name: 'queue_restart',
  schema,
  run: runAction<QueueRestartParams>({
    would: (p) => `restart ${p.programs.join(', ')} in ${p.dir} (artisan queue:restart) and wait for them`,
    async act(ctx, p) {
      const before = await supervisorRpc(ctx, [{ op: 'pids', groups: p.programs }]);
      if (before.error) return { changed: false, failed: true, msg: `${p.programs.join(', ')}: ${before.error}` };
      const restart = await ctx.exec(argv(p.php, 'artisan', 'queue:restart'), { cwd: p.dir, become: p.user });
      if (restart.code !== 0) {
        return { changed: false, failed: true, msg: `artisan queue:restart failed (rc=${restart.code}): ${(restart.stderr || restart.stdout).trim().split('\n').slice(-3).join('; ')}` };
      }
      const waited = await supervisorRpc(ctx, [{ op: 'wait', groups: p.programs, want: 'running', dir: p.dir, old: before.pids, timeout: p.timeout ?? 60 }]);
      if (waited.error) return { changed: true, failed: true, msg: `${p.programs.join(', ')}: restarted, but ${waited.error}` };
      return { changed: true, msg: `${waited.processes} workers restarted, running ${p.dir}`, data: { processes: waited.processes } };
    },
  }),
});
