/**
 * Facts about supervisord on a host: whether it is installed and answering, and the state of
 * one program group's processes. Read by the supervisor module together with its program
 * file's state, in one command.
 */
import type { ModuleContext } from '../contract.js';
import { parseStatOutput, statCommand, type PathState, type StatRequest } from './file.js';

export interface SupervisorStatus {
  installed: boolean;
  /** supervisord answers on its socket. */
  running: boolean;
  /** The program's group is loaded in the running supervisord. */
  loaded: boolean;
  processes: { name: string; state: string }[];
}

const STATES = 'RUNNING|STARTING|STOPPED|STOPPING|BACKOFF|FATAL|EXITED|UNKNOWN';
/** States in which a process counts as up. */
export const UP = new Set(['RUNNING', 'STARTING']);

/** Fields of each process struct in a getAllProcessInfo XML-RPC reply, for processes of `group`. */
function parseRpc(xml: string, group: string): { name: string; state: string }[] {
  const out: { name: string; state: string }[] = [];
  for (const struct of xml.split('<struct>').slice(1)) {
    const f: Record<string, string> = {};
    for (const m of struct.matchAll(/<name>(\w+)<\/name>\s*<value>(?:<(?:string|int)>)?([^<]*)/g)) f[m[1]!] = m[2]!;
    if (f.group === group) out.push({ name: f.name === group ? group : `${group}:${f.name}`, state: f.statename ?? 'UNKNOWN' });
  }
  return out;
}

/** Parse the probe's output (pure). */
export function parseStatus(text: string, group: string): SupervisorStatus {
  const lines = text.split('\n');
  if (lines[0]?.trim() !== 'installed=1') return { installed: false, running: false, loaded: false, processes: [] };
  const body = lines.slice(2).join('\n');
  if (lines[1]?.trim() === 'via=down') return { installed: true, running: false, loaded: false, processes: [] };
  if (lines[1]?.trim() === 'via=rpc') {
    const processes = parseRpc(body, group);
    return { installed: true, running: true, loaded: processes.length > 0, processes };
  }
  const processes: { name: string; state: string }[] = [];
  for (const line of lines.slice(2)) {
    const m = line.match(new RegExp(`^(\\S+)\\s+(${STATES})\\b`));
    if (m) processes.push({ name: m[1]!, state: m[2]! });
  }
  const down = /no such file|refused connection|connection refused|SHUTDOWN_STATE/i.test(body);
  return { installed: true, running: !down, loaded: processes.length > 0, processes };
}

/**
 * Runs after the file's stat fragment, with "$1" = the program name. supervisorctl is a Python
 * program costing a few hundred milliseconds per start, too much for a no-change run, so the
 * status is asked of supervisord's XML-RPC socket with curl when it answers there (the usual
 * socket paths, no auth), and of supervisorctl only otherwise (auth, no curl). When the
 * configuration names a unix socket that is not there, supervisord is down, which is all there
 * is to know (a first apply): no supervisorctl is started to say so.
 */
const SUPERVISOR_PROBE = `
if ! command -v supervisorctl >/dev/null 2>&1; then echo installed=0; exit 0; fi
echo installed=1
for conf in /etc/supervisor/supervisord.conf /etc/supervisord.conf; do
  [ -f "$conf" ] || continue
  own=$(sed -n 's|^serverurl[[:space:]]*=[[:space:]]*unix://\\([^[:space:];]*\\).*|\\1|p' "$conf" | head -n 1)
  break
done
if [ -n "$own" ] && [ ! -S "$own" ]; then echo via=down; exit 0; fi
if command -v curl >/dev/null 2>&1; then
  for sock in $own /var/run/supervisor.sock /run/supervisor.sock /var/run/supervisor/supervisor.sock /tmp/supervisor.sock; do
    [ -S "$sock" ] || continue
    out=$(curl -sS --max-time 10 --unix-socket "$sock" -H 'Content-Type: text/xml' --data-binary \
      '<?xml version="1.0"?><methodCall><methodName>supervisor.getAllProcessInfo</methodName><params/></methodCall>' \
      http://localhost/RPC2 2>/dev/null) || continue
    case $out in *'<methodResponse>'*'<params>'*) printf 'via=rpc\n%s\n' "$out"; exit 0;; esac
  done
fi
echo via=ctl
supervisorctl status "$1:*" 2>&1
exit 0
`;

/** A program file's state and its group's, in one command; throws when the read itself fails. */
export async function readProgram(ctx: Pick<ModuleContext, 'exec'>, file: StatRequest, group: string): Promise<{ state: PathState; status: SupervisorStatus }> {
  const res = await ctx.exec(statCommand([file], SUPERVISOR_PROBE, [group]));
  if (res.code !== 0) throw new Error(`reading supervisor state failed (rc=${res.code}): ${res.stderr.trim()}`);
  const { states, rest } = parseStatOutput(res.stdout, [file]);
  return { state: states[0]!, status: parseStatus(rest, group) };
}
