/**
 * service_reload: reload, restart, start or stop a service through systemctl where systemd is
 * PID 1, else through `service` (/etc/init.d), which is what servers without systemd (and the
 * lab) have.
 *
 * One round trip whatever the state: a fixed script reads whether the service exists and
 * runs, decides the action from the wanted state, and (outside check mode) tests the
 * configuration, acts, and checks the outcome. `started`/`stopped` are idempotent; `reloaded`
 * starts a service that is not running (a reload of nothing would leave it down);
 * `restarted`/`reloaded` always report a change.
 *
 * A reload of php-fpm or nginx with a broken configuration takes the service down (php-fpm
 * exits on reload errors), so for services with a known config test the test runs first and
 * a failing test refuses the action with the test's output as the message.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { script, type Command } from '../src/command.js';
import { defineModule } from '../src/module-kit/contract.js';
import { outputTail } from './command.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'state'],
  properties: {
    // Unit names and init script names; instance units (foo@bar) included.
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9@._:-]*$' },
    state: { enum: ['reloaded', 'restarted', 'started', 'stopped'] },
    test: {
      anyOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
      description: 'Configuration test before reloaded/restarted/started: `true` (default) uses the known test for the service (php-fpmX.Y -t, nginx -t, apache2ctl configtest) if there is one, `false` skips it, a list is a program and its arguments to run instead.',
    },
  },
} as const;

/** The arguments, as the schema declares them. */
export type ServiceParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;
/** The states the schema allows. */
export type ServiceState = ServiceParams['state'];

/** The built-in configuration test for well-known services, as argv; undefined when none. */
export function defaultConfigTest(name: string): string[] | undefined {
  const fpm = name.match(/^php(\d+\.\d+)-fpm$/);
  if (fpm) return [`php-fpm${fpm[1]}`, '-t'];
  if (name === 'nginx') return ['nginx', '-t', '-q'];
  if (name === 'apache2') return ['apache2ctl', 'configtest'];
  return undefined;
}

export function configTest(p: Pick<ServiceParams, 'name' | 'test'>): string[] | undefined {
  if (p.test === false) return undefined;
  if (Array.isArray(p.test)) return p.test.length > 0 ? p.test : undefined;
  return defaultConfigTest(p.name);
}

/** The action the wanted state needs, given whether the service runs; undefined: nothing to do. */
export function decideAction(state: ServiceState, running: boolean): 'start' | 'stop' | 'reload' | 'restart' | undefined {
  switch (state) {
    case 'started': return running ? undefined : 'start';
    case 'stopped': return running ? 'stop' : undefined;
    case 'reloaded': return running ? 'reload' : 'start';
    case 'restarted': return 'restart';
  }
}

/**
 * The script mirrors decideAction (it must decide on the host to stay at one round trip);
 * the unit tests hold the two to the same table. Output: key=value lines on stdout.
 */
const SCRIPT = `init=$1 svc=$2 want=$3 dry=$4
shift 4
status() {
  if [ "$init" = systemd ]; then systemctl is-active --quiet "$svc"; else service "$svc" status >/dev/null 2>&1; fi
}
act() {
  if [ "$init" = systemd ]; then systemctl "$1" "$svc"; else service "$svc" "$1"; fi
}
if [ "$init" = systemd ]; then
  [ "$(systemctl show -p LoadState --value "$svc" 2>/dev/null)" = loaded ] || { echo state=missing; exit 0; }
else
  [ -x "/etc/init.d/$svc" ] || { echo state=missing; exit 0; }
fi
if status; then running=1; else running=0; fi
echo "running=$running"
case "$want:$running" in
  started:1|stopped:0) echo action=none; exit 0 ;;
  started:0|reloaded:0) action=start ;;
  stopped:1) action=stop ;;
  reloaded:1) action=reload ;;
  *) action=restart ;;
esac
echo "action=$action"
[ "$dry" = 1 ] && exit 0
if [ $# -gt 0 ] && [ "$action" != stop ]; then
  if ! out=$("$@" 2>&1); then echo state=test-failed; printf '%s\\n' "$out" >&2; exit 1; fi
fi
# A daemon that keeps the caller's stdout open would hold the SSH channel open with it: its
# output goes to a file, read back after.
log=$(mktemp)
act "$action" </dev/null >"$log" 2>&1
rc=$?
cat "$log" >&2
rm -f "$log"
[ $rc -eq 0 ] || { echo state=action-failed; exit 1; }
# Init scripts often return 0 when the daemon died at once or is still stopping: believe the
# status, polled for a few seconds.
i=0
while :; do
  if status; then now=1; else now=0; fi
  if [ "$action" = stop ]; then [ $now = 0 ] && break; else [ $now = 1 ] && break; fi
  i=$((i + 1))
  [ $i -lt 20 ] || { [ "$action" = stop ] && echo state=still-running || echo state=not-running; exit 1; }
  sleep 0.25
done
echo state=done`;

export function serviceCommand(init: 'systemd' | 'sysv', p: ServiceParams, dry: boolean): Command {
  return script(SCRIPT, init, p.name, p.state, dry ? '1' : '0', ...(configTest(p) ?? []));
}

export function parseOutput(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

const PAST: Record<string, string> = { start: 'started', stop: 'stopped', reload: 'reloaded', restart: 'restarted' };

export const service_reload = defineModule<ServiceParams>({
  name: 'service_reload',
  schema,
  async run(ctx, p) {
    const init = ctx.facts.initSystem;
    const res = await ctx.exec(serviceCommand(init, p, ctx.check));
    const out = parseOutput(res.stdout);
    const action = out.action;
    const how = init === 'systemd' ? 'systemctl' : 'service';
    if (out.state === 'missing') {
      // In check mode the package install an earlier task would make did not happen: starting
      // what it would install is a change the real run would make, not a failure.
      if (ctx.check && p.state !== 'stopped') {
        return { changed: true, msg: `would ${p.state === 'restarted' ? 'restart' : 'start'} ${p.name} (not installed yet)` };
      }
      return { changed: false, failed: true, msg: `service ${p.name} not found (${init === 'systemd' ? 'no systemd unit' : `no /etc/init.d/${p.name}`})` };
    }
    if (out.running === undefined) return { changed: false, failed: true, msg: `cannot read the state of ${p.name}: ${outputTail(res)}` };
    const data = { running_before: out.running === '1', action: action === 'none' ? null : action };
    if (action === 'none') return { changed: false, msg: `${p.name} already ${p.state}`, data };
    const note = p.state === 'reloaded' && action === 'start' ? ' (was not running)' : '';
    if (ctx.check) return { changed: true, msg: `would ${action} ${p.name}${note}`, data };
    switch (out.state) {
      case 'done':
        return { changed: true, msg: `${PAST[action!]} ${p.name} via ${how}${note}`, data };
      case 'test-failed':
        return { changed: false, failed: true, msg: `configuration test failed, ${p.name} not ${PAST[action!]}: ${outputTail(res)}`, data };
      case 'not-running':
        return { changed: true, failed: true, msg: `${how} ${action} ${p.name} returned, but the service is not running: ${outputTail(res)}`, data };
      case 'still-running':
        return { changed: true, failed: true, msg: `${how} stop ${p.name} returned, but the service is still running`, data };
      default:
        return { changed: true, failed: true, msg: `${how} ${action} ${p.name} failed (rc=${res.code}): ${outputTail(res)}`, data };
    }
  },
});
