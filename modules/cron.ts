/**
 * cron: one file in /etc/cron.d per name, holding the given jobs (or literal content), root-owned
 * and 0644 because cron silently ignores cron.d files that are group/other-writable or not owned
 * by root. cron re-reads /etc/cron.d on its own when a file's mtime changes: no reload needed.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import type { PathState } from '../src/module-kit/facts/file.js';
import { runSequence } from '../src/module-kit/batch.js';
import { ensureFile, fileReads } from '../src/module-kit/write.js';

export const CRON_DIR = '/etc/cron.d';

const NAME = /^[a-zA-Z0-9_-]+$/;
const MACRO = /^@(reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)$/;
const FIELD = /^[A-Za-z0-9*/,-]+$/;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: NAME.source, description: 'File name in /etc/cron.d: letters, digits, _ and - only (cron skips names with dots).' },
    jobs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['schedule', 'command'],
        properties: {
          schedule: { type: 'string', minLength: 1, description: 'Five fields ("*/5 * * * *") or a macro such as "@daily".' },
          user: { type: 'string', minLength: 1, description: 'The user the job runs as (cron.d lines carry one). Default root.' },
          command: { type: 'string', minLength: 1 },
        },
      },
    },
    content: { type: 'string', description: 'Literal file content instead of jobs.' },
    env: { type: 'object', additionalProperties: { type: 'string' }, description: 'Variables placed above the jobs, e.g. {SHELL: /bin/bash, PATH: ...}.' },
    state: { enum: ['present', 'absent'], default: 'present' },
  },
} as const;

/** The arguments, as the schema declares them. */
export type CronParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;
/** One of `jobs`, as the schema declares it. */
export type CronJob = NonNullable<CronParams['jobs']>[number];

/** Why a schedule is not one cron accepts, or undefined (pure). */
export function scheduleError(schedule: string): string | undefined {
  const s = schedule.trim();
  if (MACRO.test(s)) return undefined;
  const fields = s.split(/\s+/);
  if (fields.length !== 5 || !fields.every((f) => FIELD.test(f))) {
    return `invalid cron schedule '${schedule}': expected five fields (minute hour day month weekday) or @hourly/@daily/...`;
  }
  return undefined;
}

/** The cron.d file for `params` (pure). Errors name the offending job. */
export function renderCron(params: CronParams): { content?: string; error?: string } {
  if (!NAME.test(params.name)) return { error: `invalid cron name '${params.name}': use letters, digits, _ and - only (cron ignores files with dots)` };
  if (params.content !== undefined) {
    if (params.jobs !== undefined || params.env !== undefined) return { error: 'cron: give either content, or jobs (with env)' };
    // cron drops a last line that has no newline.
    return { content: params.content.endsWith('\n') ? params.content : `${params.content}\n` };
  }
  if (!params.jobs) return { error: 'cron: jobs or content is required' };
  const lines = [`# Managed by Flight (cron ${params.name}): local edits are overwritten.`];
  for (const [k, v] of Object.entries(params.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) return { error: `invalid cron env name '${k}'` };
    if (/[\r\n]/.test(v)) return { error: `cron env ${k} must be one line` };
    lines.push(`${k}=${v}`);
  }
  for (const [i, job] of params.jobs.entries()) {
    const err = scheduleError(job.schedule);
    if (err) return { error: `jobs[${i}]: ${err}` };
    const user = job.user ?? 'root';
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(user)) return { error: `jobs[${i}]: invalid user '${user}'` };
    if (/[\r\n]/.test(job.command) || !job.command.trim()) return { error: `jobs[${i}]: command must be one non-empty line` };
    lines.push(`${job.schedule.trim().split(/\s+/).join(' ')} ${user} ${job.command}`);
  }
  return { content: `${lines.join('\n')}\n` };
}

const cronPath = (name: string) => `${CRON_DIR}/${name}`;

/** state: absent. Whatever stands there goes, so the read needs no checksum. */
const removeCron = runOperation<CronParams, PathState, { remove: boolean; error?: string }>({
  read: async (ctx, params) => (await ctx.stat([{ path: cronPath(params.name) }]))[0]!,
  decide: (_params, state) => ({ remove: state.type !== 'missing' }),
  changed: (d) => d.remove,
  apply: (ctx, params) => runSequence(ctx, [['rm', '-f', '--', cronPath(params.name)]]),
  result: (ctx, params, _d, _state, changed) => ({
    changed,
    msg: `${cronPath(params.name)}: ${changed ? 'removed' : 'absent'}`,
    diff: ctx.diff && changed ? [{ path: cronPath(params.name), before: '(present)\n', after: '' }] : undefined,
  }),
});

export const cron = defineModule<CronParams>({
  name: 'cron',
  schema,
  reads(params, { diff }) {
    if (!NAME.test(params.name)) return undefined;
    const dest = cronPath(params.name);
    return (params.state ?? 'present') === 'absent' ? [{ path: dest }] : fileReads(dest, diff);
  },
  async run(ctx, params) {
    if (!NAME.test(params.name)) return { changed: false, failed: true, msg: renderCron(params).error };
    if ((params.state ?? 'present') === 'absent') return removeCron(ctx, params);
    const rendered = renderCron(params);
    if (rendered.error) return { changed: false, failed: true, msg: rendered.error };
    // Reading, deciding and writing a whole file is the kit's, shared with template and copy.
    const result = await ensureFile(ctx, { path: cronPath(params.name), content: rendered.content!, mode: '0644', owner: 'root', group: 'root' });
    if (result.failed && result.msg?.startsWith(`parent directory ${CRON_DIR} `)) result.msg += ' (is cron installed?)';
    return result;
  },
});
