/**
 * supervisor: a program file in /etc/supervisor/conf.d, loaded into supervisord, and its
 * processes running (or stopped). The file's state and `supervisorctl status` are read in one
 * round trip; supervisord is told to reread/update only when the file changed, so a no-change
 * run never restarts workers.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { parseStatus, SUPERVISOR_PROBE, UP, type SupervisorStatus } from '../src/module-kit/facts/supervisor.js';
import { defineModule, type ModuleContext, type ModuleResult } from '../src/module-kit/contract.js';
import { script } from '../src/command.js';
import { parseStatOutput, statCommand } from '../src/module-kit/facts/file.js';
import { applyFilePlan, fileRequest, fileResult, planChanged, planFile, type FilePlan, type FileSpec } from '../src/module-kit/write.js';
import { awaitPrograms, PROGRAM_NAME as NAME } from '../src/module-kit/supervisor-wait.js';

export const SUPERVISOR_DIR = '/etc/supervisor/conf.d';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: NAME.source, description: 'Program name; also the file name <name>.conf.' },
    command: { type: 'string', minLength: 1 },
    user: { type: 'string', minLength: 1 },
    numprocs: { type: 'integer', minimum: 1 },
    directory: { type: 'string', pattern: '^/' },
    stopwaitsecs: { type: 'integer', minimum: 0 },
    startsecs: { type: 'integer', minimum: 0, description: "Seconds a process must stay up to count as started (supervisord's default: 1)." },
    wait: { type: 'integer', minimum: 0, description: 'Seconds to wait after a change for every process to be RUNNING (or STOPPED); default startsecs + 15.' },
    stdout_logfile: { type: 'string', minLength: 1 },
    autostart: { type: 'boolean' },
    autorestart: { type: 'boolean' },
    environment: { type: 'object', additionalProperties: { type: 'string' } },
    state: { enum: ['present', 'absent'], default: 'present' },
    started: { type: 'boolean', default: true, description: 'Processes running (default) or stopped; a change either way is reported.' },
    secret: { type: 'boolean', description: 'Hide the program file from diffs (its environment may hold credentials).' },
  },
} as const;

/** The arguments, as the schema declares them. */
export type SupervisorParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

/**
 * supervisord expands %(name)s in most values (ConfigParser-style), so a literal percent sign
 * must be doubled; %(...) expansions such as %(process_num)02d are left for supervisord.
 */
export const escapePercent = (v: string): string => v.replace(/%(?!\()/g, '%%');

/**
 * environment=KEY="value",...: supervisord splits it with a non-POSIX shlex (no escapes inside
 * quotes) and then strips quote characters from both ends of each value. So a value is wrapped
 * in whichever quote it does not contain, and one holding both kinds, or starting or ending with
 * a quote, cannot be written at all.
 */
export function envValue(v: string): { value?: string; error?: string } {
  if (/^['"]|['"]$/.test(v)) return { error: 'cannot start or end with a quote' };
  const q = !v.includes('"') ? '"' : !v.includes("'") ? "'" : undefined;
  if (!q) return { error: `cannot hold both ' and "` };
  return { value: `${q}${escapePercent(v)}${q}` };
}

/** supervisord's config parser cuts a value at " ;" or " #" (an inline comment). */
const INLINE_COMMENT = /\s[;#]/;

/**
 * Checks the new program file with supervisord's own parser before it replaces the old one: a
 * bad file (an unknown user, a bad environment line) would otherwise stop supervisord from
 * starting at all, taking every other program down with it. No '%' in the text: %s is the file.
 */
const VALIDATOR = [
  'import os, sys',
  'from supervisor.options import ServerOptions, UnhosedConfigParser',
  'p = UnhosedConfigParser()',
  "p.expansions = dict(('ENV_' + k, v) for k, v in os.environ.items())",
  'p.read(sys.argv[1])',
  'o = ServerOptions()',
  'o.here = sys.argv[2]',
  'try:',
  '    o.process_groups_from_parser(p)',
  'except ValueError as e:',
  '    sys.exit(str(e).replace(sys.argv[1], sys.argv[3]))',
].join('\n');

/** The program file for `params` (pure). */
export function renderProgram(p: SupervisorParams): { content?: string; error?: string } {
  if (!NAME.test(p.name)) return { error: `invalid program name '${p.name}': use letters, digits, _ and - only` };
  if (!p.command) return { error: 'supervisor: command is required when state is present' };
  const oneLine: [string, unknown][] = [
    ['command', p.command], ['user', p.user], ['directory', p.directory], ['stdout_logfile', p.stdout_logfile],
    ...Object.entries(p.environment ?? {}),
  ];
  for (const [k, v] of oneLine) {
    if (typeof v !== 'string') continue;
    if (/[\r\n]/.test(v)) return { error: `supervisor: ${k} must be one line` };
    if (INLINE_COMMENT.test(v)) return { error: `supervisor: ${k} cannot contain " ;" or " #" (supervisord reads the rest as a comment); put the command in a script` };
  }
  const numprocs = p.numprocs ?? 1;
  const lines = [
    `; Managed by Flight (supervisor ${p.name}): local edits are overwritten.`,
    `[program:${p.name}]`,
    `command=${escapePercent(p.command)}`,
  ];
  // Several processes of one program need distinct names; supervisord refuses the file otherwise.
  if (numprocs > 1) lines.push('process_name=%(program_name)s_%(process_num)02d');
  lines.push(`numprocs=${numprocs}`);
  if (p.user !== undefined) lines.push(`user=${p.user}`);
  if (p.directory !== undefined) lines.push(`directory=${escapePercent(p.directory)}`);
  lines.push(`autostart=${p.autostart ?? true}`, `autorestart=${p.autorestart ?? true}`);
  if (p.startsecs !== undefined) lines.push(`startsecs=${p.startsecs}`);
  if (p.stopwaitsecs !== undefined) lines.push(`stopwaitsecs=${p.stopwaitsecs}`);
  // Signals go to the whole process group, so a worker's children stop with it.
  lines.push('stopasgroup=true', 'killasgroup=true', 'redirect_stderr=true');
  if (p.stdout_logfile !== undefined) lines.push(`stdout_logfile=${escapePercent(p.stdout_logfile)}`);
  const env = Object.entries(p.environment ?? {});
  const pairs: string[] = [];
  for (const [k, v] of env) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) return { error: `supervisor: invalid environment name '${k}'` };
    const ev = envValue(v);
    if (ev.error) return { error: `supervisor: environment ${k} ${ev.error} (supervisord's quoting cannot express it)` };
    pairs.push(`${k}=${ev.value}`);
  }
  if (pairs.length) lines.push(`environment=${pairs.join(',')}`);
  return { content: `${lines.join('\n')}\n` };
}

export interface ControlPlan {
  startDaemon: boolean;
  /** reread + update <name>: load, reload (restarting its processes) or drop the program. */
  update: boolean;
  action?: 'start' | 'stop';
  /** state: absent and the file exists. */
  remove: boolean;
}

/** Decide what supervisord must do, given whether the file changes (pure). */
export function planControl(params: SupervisorParams, status: SupervisorStatus, fileChanges: boolean, fileExists: boolean): ControlPlan {
  const plan: ControlPlan = { startDaemon: false, update: false, remove: false };
  if ((params.state ?? 'present') === 'absent') {
    plan.remove = fileExists;
    plan.update = status.running && (fileExists || status.loaded);
    return plan;
  }
  const started = params.started ?? true;
  plan.update = status.running ? fileChanges || !status.loaded : false;
  if (started) {
    plan.startDaemon = !status.running;
    const allUp = status.loaded && status.processes.every((p) => UP.has(p.state));
    if (!status.running || plan.update || !allUp) plan.action = 'start';
  } else if (status.running && (plan.update || status.processes.some((p) => p.state !== 'STOPPED' && p.state !== 'EXITED' && p.state !== 'FATAL'))) {
    plan.action = 'stop';
  }
  return plan;
}

/**
 * Exit 5: supervisord would not start; exit 6: supervisorctl reported an error. Output goes to
 * stderr for the message. Whether the processes then came up is awaited separately.
 */
const CONTROL = `
name=$1 startd=$2 update=$3 action=$4
ctl() {
  out=$(supervisorctl "$@" 2>&1); rc=$?
  printf '%s\\n' "$out" >&2
  case $out in *ERROR*) printf '%s\\n' "$out" | grep ERROR | grep -qv 'already started\\|not running' && return 1;; esac
  return 0
}
if [ "$startd" = 1 ]; then
  service supervisor start >&2 || { echo "could not start supervisord" >&2; exit 5; }
  i=0
  until supervisorctl pid 2>/dev/null | grep -qx '[0-9][0-9]*'; do
    i=$((i + 1)); [ $i -le 100 ] || { echo "supervisord did not come up within 10s" >&2; exit 5; }
    sleep 0.1
  done
fi
if [ "$update" = 1 ]; then
  ctl reread || exit 6
  ctl update "$name" || exit 6
fi
if [ "$action" = start ]; then
  ctl start "$name:*" || true
elif [ "$action" = stop ]; then
  ctl stop "$name:*" || exit 6
fi
exit 0
`;

function describeControl(c: ControlPlan): string[] {
  const out: string[] = [];
  if (c.remove) out.push('program file removed');
  if (c.startDaemon) out.push('supervisord started');
  if (c.update) out.push('reread/updated');
  if (c.action === 'start') out.push('processes started');
  if (c.action === 'stop') out.push('processes stopped');
  return out;
}

/**
 * Tell supervisord what the plan says, then wait until the processes are as asked: `start`
 * returns while a re-added group is still STARTING, and a process that crashes at boot only
 * shows as BACKOFF, then FATAL, seconds later.
 */
async function control(ctx: ModuleContext, p: SupervisorParams, c: ControlPlan): Promise<string | undefined> {
  if (!c.startDaemon && !c.update && !c.action) return undefined;
  const res = await ctx.exec(script(CONTROL, p.name, c.startDaemon ? '1' : '0', c.update ? '1' : '0', c.action ?? ''));
  if (res.code !== 0) return `supervisor ${p.name}: ${res.stderr.trim().replace(/\s*\n\s*/g, '; ') || `exit code ${res.code}`}`;
  if (!c.action) return undefined;
  const want = c.action === 'start' ? 'running' : 'stopped';
  const timeout = p.wait ?? (c.action === 'start' ? (p.startsecs ?? 1) : (p.stopwaitsecs ?? 10)) + 15;
  const waited = await awaitPrograms(ctx, { programs: [p.name], want, timeout });
  return waited.error && `${p.name}: ${waited.error}`;
}

export const supervisor = defineModule<SupervisorParams>({
  name: 'supervisor',
  schema,
  async run(ctx, params) {
    if (!NAME.test(params.name)) return { changed: false, failed: true, msg: `invalid program name '${params.name}'` };
    const present = (params.state ?? 'present') === 'present';
    let spec: FileSpec | undefined;
    if (present) {
      const rendered = renderProgram(params);
      if (rendered.error) return { changed: false, failed: true, msg: rendered.error };
      spec = {
        path: `${SUPERVISOR_DIR}/${params.name}.conf`, content: rendered.content!, mode: '0644', owner: 'root', group: 'root',
        secret: params.secret, validate: ['python3', '-c', VALIDATOR, '%s', SUPERVISOR_DIR, `${params.name}.conf`],
      };
    }
    const path = `${SUPERVISOR_DIR}/${params.name}.conf`;
    const req = spec ? fileRequest(spec, ctx.diff) : { path };
    const res = await ctx.exec(statCommand([req], SUPERVISOR_PROBE, [params.name]));
    if (res.code !== 0) throw new Error(`reading supervisor state failed (rc=${res.code}): ${res.stderr.trim()}`);
    const { states, rest } = parseStatOutput(res.stdout, [req]);
    const state = states[0]!;
    const status = parseStatus(rest, params.name);
    if (!status.installed) {
      // Nothing can run a program where supervisor is missing: absent already holds.
      if (!present && state.type === 'missing') return { changed: false, msg: `${params.name}: absent (supervisor is not installed)` };
      return { changed: false, failed: true, msg: 'supervisor is not installed on this host (install the supervisor package first)' };
    }

    let filePlan: FilePlan | undefined;
    if (spec) {
      filePlan = planFile(state, spec);
      if (filePlan.error) return { changed: false, failed: true, msg: filePlan.error };
    }
    const c = planControl(params, status, !!filePlan?.content, state.type !== 'missing');
    const changed = (filePlan ? planChanged(filePlan) : false) || c.remove || c.startDaemon || c.update || c.action !== undefined;

    let error: string | undefined;
    if (changed && !ctx.check) {
      if (spec && filePlan && planChanged(filePlan)) error = await applyFilePlan(ctx, spec, filePlan, state);
      if (!error && c.remove) {
        const rm = await ctx.exec({ argv: ['rm', '-f', '--', path] });
        if (rm.code !== 0) error = rm.stderr.trim();
      }
      if (!error) error = await control(ctx, params, c);
    }
    const data = { path, running: status.running, processes: status.processes };
    if (!spec || !filePlan) {
      if (error) return { changed: false, failed: true, msg: error };
      const parts = describeControl(c);
      return {
        changed, data, msg: `${params.name}: ${parts.length ? parts.join(', ') : 'absent'}`,
        diff: ctx.diff && c.remove ? [{ path, before: '(present)\n', after: '' }] : undefined,
      };
    }
    const result: ModuleResult = fileResult(ctx, spec, state, filePlan, error);
    if (result.failed) return result;
    const parts = [...(planChanged(filePlan) ? [result.msg!] : []), ...describeControl(c)];
    return { ...result, changed, data: { ...result.data, ...data }, msg: parts.length ? parts.join(', ') : `${params.name}: up to date, ${params.started ?? true ? 'running' : 'stopped'}` };
  },
});
