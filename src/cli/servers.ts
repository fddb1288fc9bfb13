/**
 * `flight server:add` and `flight server:remove`: arguments in, elastic.ts does the work, and
 * the outcome out: a last line `ready: NAME` (or `removed: NAME`) a script can wait for, or
 * with --json one JSON object per line ending with {"event":"ready",...}.
 */
import path from 'node:path';
import { HOST_KEY_POLICY_OPTION, parseArgs, port, seconds, type OptionSpec } from './args.js';
import { invalid } from '../errors.js';
import type { HostKeyPolicy } from '../inventory/types.js';
import { reporterFor } from '../reporters/for-output.js';
import { addServer, removeServer, type ElasticReporter } from '../cluster/elastic.js';
import { COPYABLE, type Copyable } from '../cluster/plan.js';

export const SERVER_HELP = `Usage:
  flight server:add CLUSTER NAME HOST [--web] [--like SERVER] [--listen ADDRESS]
                    [--copy queues,scheduler,deploy_commands]
                    [--ssh-user USER] [--ssh-port PORT] [--ssh-key FILE] [--lock-timeout SECONDS]
  flight server:remove CLUSTER NAME [--keep-workers] [--lock-timeout SECONDS]

server:add provisions a new server, configures every app the --like server runs (default: the
cluster's first web server with --web, else its first other server) with a copy of its web pool,
releases each at the commit it serves now, and only then prints \`ready: NAME\`. Queues, the
scheduler and deploy commands are copied only when --copy names them. The server is recorded in
clusters/CLUSTER.servers.yml; SSH settings are the --like server's unless given.

server:remove takes a server added that way out of its apps (no release reaches it any more)
and stops its queue workers and scheduler (--keep-workers leaves them), then drops it.

Both wait for a release in progress to finish (the app's deploy lock), at most --lock-timeout
seconds (default 600). Options: --defs DIR --json --plain -v --host-key-policy P. See docs/elastic.md.
`;


export const SERVER_OPTIONS: readonly OptionSpec[] = [
  { name: 'defs', takes: 'value', arg: 'DIR', help: 'the definitions folder', check: 'local-path' },
  { name: 'web', takes: 'flag', help: '(add) the new server is a web server' },
  { name: 'like', takes: 'value', arg: 'SERVER', help: '(add) the server whose apps and settings to copy', check: 'server-name' },
  { name: 'listen', takes: 'value', arg: 'ADDRESS', help: '(add) the address nginx listens on', check: 'ip' },
  { name: 'copy', takes: 'value', arg: 'LIST', help: `(add) also copy: ${COPYABLE.join(', ')}` },
  { name: 'ssh-user', takes: 'value', arg: 'USER', help: '(add) the SSH user', check: 'user-name' },
  { name: 'ssh-port', takes: 'value', arg: 'PORT', help: '(add) the SSH port', check: port(1) },
  { name: 'ssh-key', takes: 'value', arg: 'FILE', help: '(add) the SSH key', check: 'local-path' },
  { name: 'lock-timeout', takes: 'value', arg: 'SECONDS', help: 'wait at most this long for a release in progress (default 600)', check: seconds },
  { name: 'keep-workers', takes: 'flag', help: '(remove) leave the queue workers and scheduler running' },
  HOST_KEY_POLICY_OPTION,
  { name: 'json', takes: 'flag', help: 'one JSON object per line, ending with {"event":"ready"} or {"event":"removed"}' },
  { name: 'plain', takes: 'flag', help: 'line-per-event output' },
  { name: 'v', takes: 'count', help: 'more output' },
  { name: 'help', short: 'h', takes: 'flag', help: 'this help' },
];

export async function serverCommand(verb: 'server:add' | 'server:remove', args: string[]): Promise<number> {
  const { options: a, positional: words } = parseArgs(args, SERVER_OPTIONS, `flight ${verb}`);
  if (a.help) {
    process.stdout.write(SERVER_HELP);
    return 0;
  }
  const verbosity = (a.v as number | undefined) ?? 0;
  const output = a.json ? 'json' : a.plain || process.env.CI || !process.stdout.isTTY ? 'plain' : 'listr';
  const defsDir = path.resolve((a.defs as string | undefined) ?? process.env.FLIGHT_DEFS ?? process.cwd());
  const policy = a['host-key-policy'] as string | undefined;
  const lockTimeout = a['lock-timeout'] === undefined ? undefined : secondsToMs(a['lock-timeout'], '--lock-timeout');
  const common = { defsDir, verbosity, lockTimeoutMs: lockTimeout, hostKeyPolicy: policy as HostKeyPolicy | undefined };
  const say = (obj: Record<string, unknown>, text: string) => process.stdout.write(`${output === 'json' ? JSON.stringify(obj) : text}\n`);
  const t0 = Date.now();
  const reporter: ElasticReporter = {
    // Seconds since the start: where an add spends its time (apt, the wait for a release) shows.
    step: (line) => say({ event: 'step', msg: line, s: (Date.now() - t0) / 1000 }, `==> +${((Date.now() - t0) / 1000).toFixed(1)}s ${line}`),
    playbook: () => reporterFor(output, verbosity),
  };

  if (verb === 'server:add') {
    if (words.length !== 3) throw invalid(`expected CLUSTER NAME HOST: flight server:add lab web-4 10.0.0.14 --web (see --help)`);
    const [cluster, name, host] = words as [string, string, string];
    const copy = a.copy === undefined ? [] : String(a.copy).split(',').map((x) => x.trim()).filter(Boolean);
    for (const c of copy) if (!(COPYABLE as readonly string[]).includes(c)) throw invalid(`--copy ${c}: expected any of ${COPYABLE.join(', ')}`);
    const port = a['ssh-port'] === undefined ? undefined : Number(a['ssh-port']);
    if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw invalid(`--ssh-port: expected 1 to 65535, got '${a['ssh-port']}'`);
    const key = a['ssh-key'] === undefined ? undefined : keyPath(String(a['ssh-key']), defsDir);
    const result = await addServer({
      ...common, cluster, name, host, web: !!a.web, like: a.like as string | undefined, listen: a.listen as string | undefined, copy: copy as Copyable[],
      ssh: { user: a['ssh-user'] as string | undefined, port, key },
    }, reporter);
    for (const x of result.apps) reporter.step(`${x.app}: ${x.sha ? `serves ${x.sha.slice(0, 12)}` : 'no release yet'}`);
    say({ event: 'ready', cluster, server: name, apps: result.apps, seconds: result.ms / 1000 }, `ready: ${name}`);
    return 0;
  }
  if (words.length !== 2) throw invalid('expected CLUSTER NAME: flight server:remove lab web-4 (see --help)');
  const [cluster, name] = words as [string, string];
  const result = await removeServer({ ...common, cluster, name, keepWorkers: !!a['keep-workers'] }, reporter);
  say({ event: 'removed', cluster, server: name, apps: result.apps, seconds: result.ms / 1000 }, `removed: ${name}`);
  return 0;
}

function secondsToMs(v: unknown, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw invalid(`${flag}: expected seconds >= 0, got '${String(v)}'`);
  return n * 1000;
}

/**
 * The key as the state file should hold it: relative to the definitions folder when it is in
 * it (the folder moves between machines with its keys), else absolute.
 */
function keyPath(given: string, defsDir: string): string {
  if (given.startsWith('~')) return given;
  const abs = path.resolve(given);
  const rel = path.relative(defsDir, abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}
