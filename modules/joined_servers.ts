/**
 * joined_servers: the record, beside an app's deploy lock, of the servers `flight server:add`
 * joined to the app and `flight server:remove` took out of it. Only those commands change it,
 * and only while they hold the app's deploy lock.
 *
 * Why: a release reads the definitions, then takes the lock. A run that read them just before
 * a server joined would release to every server but the new one, and the new server, reported
 * ready, would serve the old commit from then on. So a release checks, once it holds the lock,
 * that its definitions list every server that joined (and none that just left); one that does
 * not stops before it changes anything, and its next run reads the definitions afresh.
 *
 * One line per server: `joined|left <TAB> name <TAB> cluster <TAB> epoch seconds`, times from
 * the host's own clock (written and compared there, so the control machine's clock never
 * matters). A `left` line only counts for LEFT_WINDOW_S: long enough for any run that read the
 * definitions before the remove to reach the lock, short enough that putting the server back
 * by hand later is not refused.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { defineModule, type ModuleResult } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import { pathSchema } from '../src/module-kit/schemas.js';

export const LEFT_WINDOW_S = 3600;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: pathSchema,
    servers: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' }, description: "Check: the app's servers as this run's definitions list them." },
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$', description: 'Change: record that this server joined or left the app.' },
    state: { enum: ['joined', 'left'] },
    cluster: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$', description: "The server's cluster, for the messages of later checks." },
  },
} as const;

/** The arguments, as the schema declares them. */
export type JoinedServersParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export interface Membership {
  state: 'joined' | 'left';
  name: string;
  cluster: string;
  at: number;
}

// $1 path. The record, then the host's time.
const READ = `
[ -f "$1" ] && cat "$1"
echo "now $(date +%s)"
`;

// $1 path; the new record on stdin. Written beside, then renamed over: never half a file.
const WRITE = `
mkdir -p "$(dirname "$1")"
umask 077
cat > "$1.tmp" && mv -f "$1.tmp" "$1"
`;

/** The record and the host's time (pure). Lines that do not parse are dropped. */
export function parseMembership(stdout: string): { records: Membership[]; now: number } {
  const records: Membership[] = [];
  let now = 0;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('now ')) {
      now = Number(line.slice(4)) || 0;
      continue;
    }
    const [state, name, cluster = '', at] = line.split('\t');
    if ((state === 'joined' || state === 'left') && name && Number.isFinite(Number(at))) records.push({ state, name, cluster, at: Number(at) });
  }
  return { records, now };
}

const iso = (epoch: number) => new Date(epoch * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

/** Why a run whose definitions list `servers` must not go on, or undefined (pure). */
export function membershipProblem(records: Membership[], servers: readonly string[], now: number): string | undefined {
  const listed = new Set(servers);
  for (const r of records) {
    if (r.state === 'joined' && !listed.has(r.name)) {
      return `server '${r.name}' joined this app at ${iso(r.at)} (flight server:add) but this run's definitions do not list it: ` +
        `they were read before it joined, or lack clusters/${r.cluster}.servers.yml. Nothing was changed: run again with up-to-date definitions ` +
        `(or \`flight server:remove ${r.cluster} ${r.name}\` if it should not be here)`;
    }
    if (r.state === 'left' && listed.has(r.name) && now - r.at < LEFT_WINDOW_S) {
      return `server '${r.name}' left this app at ${iso(r.at)} (flight server:remove) but this run's definitions still list it: ` +
        'they were read before it left. Nothing was changed: run again';
    }
  }
  return undefined;
}

/** The record after `name` joined or left (pure): one line per server, stale `left` lines dropped. */
export function updateMembership(records: Membership[], change: Membership, now: number): Membership[] {
  const kept = records.filter((r) => r.name !== change.name && !(r.state === 'left' && now - r.at >= LEFT_WINDOW_S));
  return [...kept, change];
}

export const formatMembership = (records: Membership[]): string => records.map((r) => `${r.state}\t${r.name}\t${r.cluster}\t${r.at}\n`).join('');

/** The record to write when `name` joins or leaves; none when it already stands so. */
export interface MembershipPlan {
  error?: string;
  write?: Membership[];
}

/** Decide (pure) a change of `p.name` to `p.state`, stamped with the host's `now`. */
export function planMembership(records: Membership[], p: { name: string; state?: 'joined' | 'left'; cluster?: string }, now: number): MembershipPlan {
  if (!p.state) return { error: 'joined_servers: name needs state (joined or left)' };
  if (records.find((r) => r.name === p.name)?.state === p.state) return {};
  return { write: updateMembership(records, { state: p.state, name: p.name, cluster: p.cluster ?? '', at: now }, now) };
}

const fail = (msg: string): { result: ModuleResult } => ({ result: { changed: false, failed: true, msg } });

export const joined_servers = defineModule<JoinedServersParams>({
  name: 'joined_servers',
  schema,
  run: runOperation<JoinedServersParams, { records: Membership[]; now: number }, MembershipPlan>({
    async read(ctx, p) {
      if ((p.servers === undefined) === (p.name === undefined)) return fail('joined_servers needs either servers (to check) or name and state (to record)');
      const read = await ctx.exec(script(READ, p.path));
      if (read.code !== 0) return fail(`reading ${p.path}: ${read.stderr.trim()}`);
      const { records, now } = parseMembership(read.stdout);
      if (!p.servers) return { records, now };
      // A check changes nothing: the read answers it.
      const problem = membershipProblem(records, p.servers, now);
      const data = { records: records as unknown as Record<string, unknown>[] };
      return { result: problem ? { changed: false, failed: true, msg: problem, data } : { changed: false, msg: `${records.filter((r) => r.state === 'joined').length} joined server(s), all listed`, data } };
    },
    decide: (p, f) => planMembership(f.records, { name: p.name!, state: p.state, cluster: p.cluster }, f.now),
    changed: (d) => d.write !== undefined,
    async apply(ctx, p, d) {
      const write = await ctx.exec(script(WRITE, p.path), { stdin: formatMembership(d.write!) });
      // Prefixed here, not in `failure`: a failure with nothing on stderr must not read as success.
      return write.code === 0 ? undefined : `writing ${p.path}: ${write.stderr.trim()}`;
    },
    result(ctx, p, _d, _f, changed) {
      if (!changed) return { changed: false, msg: `${p.name} already ${p.state}` };
      // Check mode is read for the wording only: the decision is the same in both modes.
      return { changed: true, msg: ctx.check ? `would record ${p.name} ${p.state}` : `${p.name} ${p.state}` };
    },
  }),
});
