/**
 * Servers added by `flight server:add`, recorded in clusters/<cluster>.servers.yml beside the
 * cluster file (Flight never rewrites the files people write: docs/elastic.md says why). This
 * module turns such a file into records, checks them against the rest of the definitions, and
 * merges the servers that joined into their cluster and apps.
 *
 * Membership: an added server is one of its cluster's servers once it is `ready` or has joined
 * at least one app, and it is in an app once its entry there says `joined: true` (it then holds
 * the app's current release). A server still being added, or whose add failed, receives
 * nothing: no provision, configure or release of its cluster or apps reaches it by accident.
 * `include` names servers to treat as joined everywhere: `flight server:add` itself works on
 * the server it adds that way.
 */
import type { Problem } from '../problems.js';
import type { YamlFile } from '../yaml-positions.js';
import { checkServerEntry, type Checked } from './checks.js';
import { RESERVED_SERVER_NAMES } from './names.js';
import { resolveSsh } from './normalize.js';
import type { AddedAppEntry, AddedServer, AddedStatus, App, Cluster, FlightConfig, Queue, SshOptions, WebPool } from './types.js';

/** clusters/<cluster>.servers.yml (or .yaml): the cluster's name is the first group. */
export const ADDED_FILE = /^clusters\/([^/]+)\.servers\.ya?ml$/;

export const addedFileOf = (cluster: string): string => `clusters/${cluster}.servers.yml`;

interface AddedData {
  servers: {
    name: string;
    host: string;
    web_server: boolean;
    listen?: string;
    ssh?: SshOptions;
    like?: string;
    status: AddedStatus;
    since: string;
    by?: string;
    pid?: number;
    error?: string;
    apps: Record<string, { joined: boolean; web: WebPool; deploy_commands: string[]; queues: Queue[]; scheduler: boolean }>;
  }[];
}

/** Schema-valid data (defaults filled in) to records; ssh paths resolved like a cluster's. */
export function toAdded(cluster: string, file: string, data: unknown, dir: string): AddedServer[] {
  const d = data as AddedData;
  return d.servers.map((s) => ({
    name: s.name,
    host: s.host,
    web_server: s.web_server,
    listen: s.listen ?? null,
    database: null,
    redis: null,
    ssh: resolveSsh(s.ssh, dir),
    cluster,
    file,
    like: s.like ?? null,
    status: s.status,
    since: s.since,
    by: s.by ?? null,
    pid: s.pid ?? null,
    error: s.error ?? null,
    apps: Object.fromEntries(
      Object.entries(s.apps).map(([app, e]): [string, AddedAppEntry] => [app, {
        joined: e.joined,
        web: { ...e.web },
        deploy_commands: [...e.deploy_commands],
        queues: e.queues.map((q) => ({ ...q })),
        scheduler: e.scheduler,
      }]),
    ),
  }));
}

export interface AddedInput {
  files: Checked<AddedServer[]>[];
  clusters: Map<string, Checked<Cluster>>;
  apps: Map<string, Checked<App>>;
  brokenClusters: Set<string>;
  brokenApps: Set<string>;
  config: FlightConfig;
}

const where = (yf: YamlFile, path: (string | number)[]) => {
  const p = yf.positionOf(path);
  return `${yf.file}:${p.line}:${p.col}`;
};

/** Everything a schema cannot say about the state files, positioned in them. */
export function checkAdded(input: AddedInput): Problem[] {
  const problems: Problem[] = [];
  // Server names are host names of one inventory: unique across every cluster and state file.
  const taken = new Map<string, string>();
  for (const c of input.clusters.values()) {
    c.value.servers.forEach((s, i) => {
      if (!taken.has(s.name)) taken.set(s.name, where(c.yf, ['servers', i, 'name']));
    });
  }
  for (const f of input.files) {
    const cluster = ADDED_FILE.exec(f.yf.file)![1]!;
    const c = input.clusters.get(cluster);
    if (!c) {
      if (!input.brokenClusters.has(cluster)) {
        problems.push({ file: f.yf.file, line: 1, col: 1, path: '', message: `no cluster '${cluster}' (no file clusters/${cluster}.yml): this file lists servers \`flight server:add\` added to it` });
      }
      continue;
    }
    // The same address on another port is another machine (port-forwarded servers).
    const addressOf = (ssh: SshOptions, host: string) => `${host}:${ssh.port ?? input.config.ssh.port ?? 22}`;
    const addresses = new Map<string, string>();
    c.value.servers.forEach((s, i) => addresses.set(addressOf(s.ssh, s.host), `server '${s.name}' (${where(c.yf, ['servers', i, 'host'])})`));

    const raw = f.yf.value as { servers: { apps?: Record<string, { web?: Partial<WebPool> }> }[] };
    f.value.forEach((s, i) => {
      const at = ['servers', i] as (string | number)[];
      if (RESERVED_SERVER_NAMES.has(s.name)) {
        problems.push(f.yf.problemAt([...at, 'name'], `'${s.name}' is reserved (a group or the implicit localhost): choose another server name`));
      }
      const other = taken.get(s.name);
      if (other) problems.push(f.yf.problemAt([...at, 'name'], `server name '${s.name}' is also used in ${other} (server names must be unique across clusters)`));
      else taken.set(s.name, where(f.yf, [...at, 'name']));

      const address = addressOf(s.ssh, s.host);
      const sameAddress = addresses.get(address);
      if (sameAddress) problems.push(f.yf.problemAt([...at, 'host'], `duplicate host ${address.replace(/:(\d+)$/, ' (port $1)')}: also ${sameAddress}`));
      else addresses.set(address, `server '${s.name}' (${where(f.yf, [...at, 'host'])})`);

      for (const [appName, entry] of Object.entries(s.apps)) {
        const appAt = [...at, 'apps', appName];
        const a = input.apps.get(appName);
        if (!a) {
          if (!input.brokenApps.has(appName)) problems.push(f.yf.problemAtKey(appAt, `no app '${appName}' (no file apps/${appName}.yml)`));
          continue;
        }
        if (a.value.cluster !== cluster) {
          problems.push(f.yf.problemAtKey(appAt, `app '${appName}' runs on cluster '${a.value.cluster}' (${a.yf.file}), not '${cluster}'`));
          continue;
        }
        const listed = a.value.servers.findIndex((x) => x.name === s.name);
        if (listed >= 0) {
          problems.push(f.yf.problemAtKey(appAt, `${a.yf.file} lists '${s.name}' too (${where(a.yf, ['servers', listed, 'name'])}): keep one of the two entries`));
        }
        problems.push(...checkServerEntry(f.yf, appAt, s.name, entry, raw.servers[i]?.apps?.[appName]?.web ?? {}));
      }
    });
  }
  return problems;
}

/** Whether an added server is one of its cluster's servers (see the header). */
export function isMember(s: AddedServer, include: ReadonlySet<string>): boolean {
  return include.has(s.name) || s.status === 'ready' || Object.values(s.apps).some((e) => e.joined);
}

/**
 * Adds the members among `added` to their clusters and apps (which it changes: pass the
 * loader's fresh objects). They come after the servers of the cluster's own file, so an app's
 * first server, which holds its deploy lock, stays one the app file names.
 */
export function mergeAdded(clusters: Map<string, Cluster>, apps: Map<string, App>, added: AddedServer[], include: ReadonlySet<string>): void {
  for (const s of added) {
    const cluster = clusters.get(s.cluster);
    if (!cluster || !isMember(s, include)) continue;
    cluster.servers.push({ name: s.name, host: s.host, web_server: s.web_server, listen: s.listen, database: null, redis: null, ssh: structuredClone(s.ssh) });
    for (const [appName, e] of Object.entries(s.apps)) {
      const app = apps.get(appName);
      if (!app || !(e.joined || include.has(s.name))) continue;
      app.servers.push({ name: s.name, web: { ...e.web }, deploy_commands: [...e.deploy_commands], queues: e.queues.map((q) => ({ ...q })), scheduler: e.scheduler });
    }
  }
}
