/**
 * Telling supervisord what to do, and waiting until its programs are as asked, through its own
 * XML-RPC interface (the one supervisorctl uses), from one short Python program per task.
 *
 * Why not supervisorctl: each of its starts costs 0.3-0.4 s of CPU (it imports pkg_resources),
 * and a change took five or more of them (wait for the daemon, reread, update, start, and a
 * status every 0.2 s until the processes were up): 5 s for one program on 5 servers sharing two
 * cores, most of a first apply. Python's own xmlrpc client starts in under 0.1 s, and one process
 * does the whole sequence. Python 3 is there wherever supervisor is (supervisor is written in it).
 *
 * supervisord starts and restarts processes asynchronously (an updated group is re-added and
 * autostarted; a worker told to exit by `artisan queue:restart` is started again by autorestart),
 * and a process is RUNNING only once it has stayed up for its `startsecs`. So a change is done
 * only when every process of the programs is there, or fails with what they printed last.
 */
import { script } from '../command.js';
import type { ModuleContext } from './contract.js';

/** A supervisor program name as Flight writes them (the file is <name>.conf). */
export const PROGRAM_NAME = /^[a-zA-Z0-9_-]+$/;

/**
 * The request, one JSON argument: `daemon` (wait up to 10 s for supervisord to answer), `update`
 * (reread the configuration and add, re-add or drop this group, as `supervisorctl update NAME`),
 * `start` / `stop` (the group), `pids` (print the running processes' ids of `groups`), and
 * `wait`: until every process of `groups` is RUNNING (in `dir`, links resolved, and none of the
 * `old` process ids) or stopped, for `timeout` seconds at most. Prints one JSON object:
 * {"ok": true, "processes": N, "pids": [...]} or {"ok": false, "msg": "..."}.
 *
 * The server is found as supervisorctl finds it: [supervisorctl] serverurl (and username and
 * password) in the first configuration file that exists, a unix socket by default.
 */
const RPC = String.raw`
import configparser, http.client, json, os, socket, sys, time, xmlrpc.client
req = json.loads(sys.argv[1])
out = {"ok": True}

service_log = os.environ.get("FLIGHT_SERVICE_LOG")

def done(ok, msg=None):
    if service_log:
        try: os.unlink(service_log)
        except OSError: pass
    out["ok"] = ok
    if msg: out["msg"] = msg
    print(json.dumps(out))
    sys.exit(0)

url, user, password = "unix:///var/run/supervisor.sock", None, None
for conf in ("/etc/supervisor/supervisord.conf", "/etc/supervisord.conf"):
    if os.path.exists(conf):
        cp = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False)
        cp.read(conf)
        if cp.has_section("supervisorctl"):
            url = cp.get("supervisorctl", "serverurl", fallback=url)
            user = cp.get("supervisorctl", "username", fallback=None)
            password = cp.get("supervisorctl", "password", fallback=None)
        break

class UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(url[len("unix://"):])

class UnixTransport(xmlrpc.client.Transport):
    def make_connection(self, host):
        return UnixConnection("localhost")

auth = "%s:%s@" % (user, password or "") if user else ""
if url.startswith("unix://"):
    server = xmlrpc.client.ServerProxy("http://%slocalhost/RPC2" % auth, transport=UnixTransport()).supervisor
else:
    server = xmlrpc.client.ServerProxy(url.replace("://", "://" + auth, 1).rstrip("/") + "/RPC2").supervisor

def fault(e):
    return e.faultString if isinstance(e, xmlrpc.client.Fault) else str(e)

def infos(groups):
    return [p for p in server.getAllProcessInfo() if p["group"] in groups]

def last_lines(p):
    try:
        text = server.tailProcessStdoutLog("%s:%s" % (p["group"], p["name"]), 0, 1600)[0]
    except Exception:
        return ""
    return " / ".join(line.strip() for line in text.strip().splitlines()[-5:] if line.strip())

def describe(procs):
    return "; ".join("%s:%s %s%s" % (p["group"], p["name"], p["statename"], (": " + last_lines(p)) if last_lines(p) else "") for p in procs)

for op in req:
    kind = op["op"]
    try:
        if kind == "daemon":
            end = time.time() + 10
            while True:
                try:
                    if server.getState()["statename"] == "RUNNING": break
                except Exception as e:
                    if time.time() > end:
                        said = ""
                        if service_log:
                            try: said = " ".join(open(service_log).read().split())
                            except OSError: pass
                        done(False, "supervisord did not answer within 10s (%s)%s" % (fault(e), "; service supervisor start: " + said if said else ""))
                time.sleep(0.1)
        elif kind == "update":
            g = op["group"]
            added, changed, removed = server.reloadConfig()[0]
            if g in removed or g in changed:
                try: server.stopProcessGroup(g, True)
                except xmlrpc.client.Fault: pass
                server.removeProcessGroup(g)
            if g in added or g in changed:
                server.addProcessGroup(g)
        elif kind == "start":
            server.startProcessGroup(op["group"], False)
        elif kind == "stop":
            server.stopProcessGroup(op["group"], True)
        elif kind == "pids":
            out["pids"] = [p["pid"] for p in infos(op["groups"]) if p["statename"] == "RUNNING"]
        elif kind == "wait":
            groups, want, old = op["groups"], op["want"], set(op.get("old", []))
            d = os.path.realpath(op["dir"]) if op.get("dir") else None
            if d is not None and not os.path.isdir(d): done(False, "no such folder: %s" % op["dir"])
            end = time.time() + op["timeout"]
            while True:
                procs = infos(groups)
                missing = [g for g in groups if not any(p["group"] == g for p in procs)]
                if missing: done(False, "not %s: no such program: %s" % (want, ", ".join(missing)))
                fatal, pending = [], []
                for p in procs:
                    s = p["statename"]
                    if want == "stopped":
                        if s not in ("STOPPED", "EXITED", "FATAL"): pending.append(p)
                    elif s == "FATAL":
                        fatal.append(p)
                    elif s != "RUNNING" or p["pid"] in old:
                        pending.append(p)
                    elif d is not None:
                        try: cwd = os.readlink("/proc/%d/cwd" % p["pid"])
                        except OSError: cwd = None
                        if cwd != d: pending.append(p)
                if fatal: done(False, "not %s: %s" % (want, describe(fatal)))
                if not pending:
                    out["processes"] = len(procs)
                    break
                if time.time() >= end: done(False, "not all %s after %ss: %s" % (want, op["timeout"], describe(pending)))
                time.sleep(0.2)
    except SystemExit:
        raise
    except Exception as e:
        done(False, "%s: %s" % (kind, fault(e)))
done(True)
`;

export type RpcStep =
  | { op: 'daemon' }
  | { op: 'update' | 'start' | 'stop'; group: string }
  | { op: 'pids'; groups: readonly string[] }
  | { op: 'wait'; groups: readonly string[]; want: 'running' | 'stopped'; timeout: number; dir?: string; old?: readonly number[] };

export interface RpcOutcome {
  /** Why a step failed: the processes' states and last output, on one line. */
  error?: string;
  /** With `wait`: how many processes reached the wanted state. */
  processes?: number;
  /** With `pids`: the running processes' ids. */
  pids?: number[];
}

/**
 * Start supervisord first when asked, then run the steps, in one remote call. The daemon is
 * started through the host's init system (`service supervisor start`), in the background: the
 * steps begin as soon as supervisord answers, instead of after Debian's init script's fixed
 * one-second pause (it sleeps when the pid file is not there yet, which it never is). What the
 * init script said is in the error when supervisord does not answer.
 */
export async function supervisorRpc(ctx: ModuleContext, steps: readonly RpcStep[], o: { startDaemon?: boolean } = {}): Promise<RpcOutcome> {
  const res = await ctx.exec(script(
    [
      'if [ "$1" = 1 ]; then',
      '  FLIGHT_SERVICE_LOG=$(mktemp) && export FLIGHT_SERVICE_LOG || exit 5',
      '  (service supervisor start >"$FLIGHT_SERVICE_LOG" 2>&1 || echo "(exit code $?)" >>"$FLIGHT_SERVICE_LOG") </dev/null &',
      'fi',
      'exec python3 -c "$2" "$3"',
      '',
    ].join('\n'),
    o.startDaemon ? '1' : '0', RPC, JSON.stringify(o.startDaemon ? [{ op: 'daemon' }, ...steps] : steps),
  ));
  let reply: { ok?: boolean; msg?: string; processes?: number; pids?: number[] } | undefined;
  try {
    reply = JSON.parse(res.stdout.trim().split('\n').pop() ?? '') as typeof reply;
  } catch {
    reply = undefined;
  }
  if (!reply || res.code !== 0) {
    const detail = (res.stderr.trim() || res.stdout.trim() || `exit code ${res.code}`).replace(/\s*\n\s*/g, '; ');
    return { error: `supervisor control failed (rc=${res.code}): ${detail}` };
  }
  if (!reply.ok) return { error: reply.msg ?? 'supervisor control failed' };
  return { processes: reply.processes, pids: reply.pids };
}
