/**
 * supervisor: a program file in /etc/supervisor/conf.d, loaded into supervisord, and its
 * processes running (or stopped). The file's state and its processes' are read in one round
 * trip; supervisord is told to reread/update only when the file changed, so a no-change run
 * never restarts workers, and a change is one more call (src/module-kit/supervisor-rpc.ts).
 */
import type { FromSchema } from 'json-schema-to-ts';
import { readProgram, UP, type SupervisorStatus } from '../src/module-kit/facts/supervisor.js';
import { defineModule, type ModuleContext } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import type { PathState } from '../src/module-kit/facts/file.js';
import { applyFilePlan, fileRequest, fileResult, planChanged, planFile, type FilePlan, type FileSpec } from '../src/module-kit/write.js';
import { PROGRAM_NAME as NAME, supervisorRpc, type RpcStep } from '../src/module-kit/supervisor-rpc.js';

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
  'import importlib, os, sys, types',
  // supervisor.options imports pkg_resources (0.2 s) for what reading program sections never
  // uses: a stand-in imports it only if something asks.
  'class LazyModule(types.ModuleType):',
  '    def __getattr__(self, name):',
  '        del sys.modules[self.__name__]',
  '        return getattr(importlib.import_module(self.__name__), name)',
  "sys.modules.setdefault('pkg_resources', LazyModule('pkg_resources'))",
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
 * Tell supervisord what the plan says, then wait until the processes are as asked, in one remote
 * call: `start` returns while a re-added group is still STARTING, and a process that crashes at
 * boot only shows as BACKOFF, then FATAL, seconds later.
 */
async function control(ctx: ModuleContext, p: SupervisorParams, c: ControlPlan): Promise<string | undefined> {
  if (!c.startDaemon && !c.update && !c.action) return undefined;
  const steps: RpcStep[] = [];
  if (c.update) steps.push({ op: 'update', group: p.name });
  if (c.action) {
    const want = c.action === 'start' ? 'running' : 'stopped';
    const timeout = p.wait ?? (c.action === 'start' ? (p.startsecs ?? 1) : (p.stopwaitsecs ?? 10)) + 15;
    steps.push({ op: c.action, group: p.name }, { op: 'wait', groups: [p.name], want, timeout });
  }
  const outcome = await supervisorRpc(ctx, steps, { startDaemon: c.startDaemon });
  return outcome.error && `${p.name}: ${outcome.error}`;
}

export interface SupervisorFacts {
  /** The program file as it must be (state: present), the one the read compared against. */
  spec?: FileSpec;
  state: PathState;
  status: SupervisorStatus;
}

export interface SupervisorPlan {
  error?: string;
  /** Supervisor is missing and so is the program file: absent holds, nothing to do. */
  notInstalled?: boolean;
  file?: FilePlan;
  control: ControlPlan;
}

/** Decide the file and what supervisord must do (pure). */
export function planSupervisor(params: SupervisorParams, f: SupervisorFacts): SupervisorPlan {
  const idle: ControlPlan = { startDaemon: false, update: false, remove: false };
  if (!f.status.installed) {
    // Nothing can run a program where supervisor is missing: absent already holds.
    if (!f.spec && f.state.type === 'missing') return { notInstalled: true, control: idle };
    return { error: 'supervisor is not installed on this host (install the supervisor package first)', control: idle };
  }
  const file = f.spec && planFile(f.state, f.spec);
  if (file?.error) return { error: file.error, control: idle };
  return { file, control: planControl(params, f.status, !!file?.content, f.state.type !== 'missing') };
}

export const supervisorChanged = (d: SupervisorPlan): boolean =>
  (d.file ? planChanged(d.file) : false) || d.control.remove || d.control.startDaemon || d.control.update || d.control.action !== undefined;

const programPath = (params: SupervisorParams): string => `${SUPERVISOR_DIR}/${params.name}.conf`;

export const supervisor = defineModule<SupervisorParams>({
  name: 'supervisor',
  schema,
  run: runOperation<SupervisorParams, SupervisorFacts, SupervisorPlan>({
    // The file is rendered before the read: the read asks for its checksum (and, for a diff, the
    // old content only when it differs). A file that cannot be written ends the task unread.
    async read(ctx, params) {
      if (!NAME.test(params.name)) return { result: { changed: false, failed: true, msg: `invalid program name '${params.name}'` } };
      const path = programPath(params);
      let spec: FileSpec | undefined;
      if ((params.state ?? 'present') === 'present') {
        const rendered = renderProgram(params);
        if (rendered.error) return { result: { changed: false, failed: true, msg: rendered.error } };
        spec = {
          path, content: rendered.content!, mode: '0644', owner: 'root', group: 'root',
          secret: params.secret, validate: ['python3', '-c', VALIDATOR, '%s', SUPERVISOR_DIR, `${params.name}.conf`],
        };
      }
      return { spec, ...(await readProgram(ctx, spec ? fileRequest(spec, ctx.diff) : { path }, params.name)) };
    },
    decide: planSupervisor,
    changed: supervisorChanged,
    async apply(ctx, params, d, f) {
      const c = d.control;
      if (f.spec && d.file && planChanged(d.file)) {
        const error = await applyFilePlan(ctx, f.spec, d.file, f.state);
        if (error) return error;
      }
      if (c.remove) {
        const rm = await ctx.exec({ argv: ['rm', '-f', '--', programPath(params)] });
        const error = rm.code === 0 ? undefined : rm.stderr.trim();
        if (error) return error;
      }
      return control(ctx, params, c);
    },
    result(ctx, params, d, f, changed) {
      if (d.notInstalled) return { changed: false, msg: `${params.name}: absent (supervisor is not installed)` };
      const c = d.control;
      const path = programPath(params);
      const data = { path, running: f.status.running, processes: f.status.processes };
      if (!f.spec || !d.file) {
        const parts = describeControl(c);
        return {
          changed, data, msg: `${params.name}: ${parts.length ? parts.join(', ') : 'absent'}`,
          diff: ctx.diff && c.remove ? [{ path, before: '(present)\n', after: '' }] : undefined,
        };
      }
      const result = fileResult(ctx, f.spec, f.state, d.file);
      const parts = [...(planChanged(d.file) ? [result.msg!] : []), ...describeControl(c)];
      return { ...result, changed, data: { ...result.data, ...data }, msg: parts.length ? parts.join(', ') : `${params.name}: up to date, ${params.started ?? true ? 'running' : 'stopped'}` };
    },
  }),
});
