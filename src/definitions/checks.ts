/**
 * Checks a JSON schema cannot express: uniqueness, order between values, and references from
 * one file to another. Each runs only on files that passed their schema, so it can trust types.
 */
import type { Problem } from '../problems.js';
import { formatPath, type YamlFile, type YamlPath } from '../yaml-positions.js';
import { SERVICE_KINDS, serviceServerOf } from './services.js';
import { RESERVED_SERVER_NAMES } from './names.js';
import type { App, AppServer, Cluster, FlightConfig, WebPool } from './types.js';

export interface Checked<T> {
  yf: YamlFile;
  value: T;
}

export function checkCluster(c: Checked<Cluster>, config: FlightConfig): Problem[] {
  const problems: Problem[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  c.value.servers.forEach((s, i) => {
    if (RESERVED_SERVER_NAMES.has(s.name)) {
      problems.push(c.yf.problemAt(['servers', i, 'name'], `'${s.name}' is reserved (a group or the implicit localhost): choose another server name`));
    }
    const sameName = names.get(s.name);
    if (sameName !== undefined) {
      const line = c.yf.positionOf(['servers', sameName, 'name']).line;
      problems.push(c.yf.problemAt(['servers', i, 'name'], `duplicate server name '${s.name}' (also servers[${sameName}], line ${line})`));
    } else names.set(s.name, i);
    // The same address on another port is another machine (port-forwarded servers).
    const port = s.ssh.port ?? config.ssh.port ?? 22;
    const address = `${s.host}:${port}`;
    const sameAddress = addresses.get(address);
    if (sameAddress !== undefined) {
      const other = c.value.servers[sameAddress]!;
      const line = c.yf.positionOf(['servers', sameAddress, 'host']).line;
      problems.push(c.yf.problemAt(['servers', i, 'host'], `duplicate host ${s.host} (port ${port}): also server '${other.name}' (line ${line})`));
    } else addresses.set(address, i);
  });
  return problems;
}

const WEB_ORDER: (keyof WebPool)[] = ['min_spare_workers', 'initial_workers', 'max_spare_workers', 'max_workers'];

export function checkApp(a: Checked<App>): Problem[] {
  const problems: Problem[] = [];
  const raw = a.yf.value as { servers?: { web?: Partial<WebPool> }[] };
  const seen = new Map<string, number>();
  a.value.servers.forEach((s, i) => {
    const first = seen.get(s.name);
    if (first !== undefined) {
      problems.push(a.yf.problemAt(['servers', i, 'name'], `server '${s.name}' is listed twice (also servers[${first}])`));
    } else seen.set(s.name, i);
    problems.push(...checkServerEntry(a.yf, ['servers', i], s.name, s, raw.servers?.[i]?.web ?? {}));
  });
  return problems;
}

/**
 * One app's entry for one server, at `at` in `yf` (an app file, or a state file of servers
 * added by `flight server:add`): unique queue names, and the pool sizes in the order php-fpm
 * needs. `written` is the web mapping as the user wrote it, to blame the key they set.
 */
export function checkServerEntry(yf: YamlFile, at: YamlPath, server: string, s: Pick<AppServer, 'web' | 'queues'>, written: Partial<WebPool>): Problem[] {
  const problems: Problem[] = [];
  const queues = new Set<string>();
  s.queues.forEach((q, j) => {
    if (queues.has(q.name)) problems.push(yf.problemAt([...at, 'queues', j, 'name'], `duplicate queue '${q.name}' on server '${server}'`));
    queues.add(q.name);
  });

  // php-fpm refuses to start a `pm = dynamic` pool unless these are in this order.
  for (let k = 0; k + 1 < WEB_ORDER.length; k++) {
    const lo = WEB_ORDER[k]!;
    const hi = WEB_ORDER[k + 1]!;
    if (s.web[lo] <= s.web[hi]) continue;
    const show = (key: keyof WebPool) => `${key} (${s.web[key]}${key in written ? '' : ', the default'})`;
    const blame = hi in written ? hi : lo in written ? lo : undefined;
    problems.push({
      ...yf.problemAt(blame ? [...at, 'web', blame] : [...at, 'web'], ''),
      path: formatPath([...at, 'web']),
      message: `${show(lo)} must be <= ${show(hi)}: php-fpm needs ${WEB_ORDER.join(' <= ')}`,
    });
  }
  return problems;
}

export interface AcrossInput {
  config?: Checked<FlightConfig>;
  clusters: Map<string, Checked<Cluster>>;
  apps: Map<string, Checked<App>>;
  /** Clusters and apps whose files exist but are invalid: references to them are not errors. */
  brokenClusters: Set<string>;
  brokenApps: Set<string>;
  /** Server names `flight server:add` recorded, by cluster: an app file may name them too. */
  added?: Map<string, string[]>;
}

export function checkAcrossFiles(input: AcrossInput): Problem[] {
  const problems: Problem[] = [];

  // Server names are host names of one inventory, whatever their cluster.
  const serverOwner = new Map<string, { c: Checked<Cluster>; i: number }>();
  for (const c of input.clusters.values()) {
    c.value.servers.forEach((s, i) => {
      const owner = serverOwner.get(s.name);
      if (owner && owner.c !== c) {
        const p = owner.c.yf.positionOf(['servers', owner.i, 'name']);
        problems.push(
          c.yf.problemAt(['servers', i, 'name'], `server name '${s.name}' is also used in ${owner.c.yf.file}:${p.line}:${p.col} (server names must be unique across clusters)`),
        );
      } else if (!owner) serverOwner.set(s.name, { c, i });
    });
  }

  const domains = new Map<string, Checked<App>>();
  for (const a of input.apps.values()) {
    const app = a.value;
    app.shared.forEach((p, i) => {
      const problem = sharedPathProblem(p, app.shared.slice(0, i));
      if (problem) problems.push(a.yf.problemAt(['shared', i], problem));
    });
    const cluster = input.clusters.get(app.cluster);
    if (!cluster) {
      if (!input.brokenClusters.has(app.cluster)) {
        const known = [...input.clusters.keys(), ...input.brokenClusters];
        problems.push(
          a.yf.problemAt(['cluster'], `no cluster '${app.cluster}' (no file clusters/${app.cluster}.yml; clusters: ${known.length ? known.join(', ') : 'none'})`),
        );
      }
    } else {
      const names = [...new Set([...cluster.value.servers.map((s) => s.name), ...(input.added?.get(app.cluster) ?? [])])];
      app.servers.forEach((s, i) => {
        if (!names.includes(s.name)) {
          problems.push(a.yf.problemAt(['servers', i, 'name'], `server '${s.name}' is not in cluster '${app.cluster}' (its servers: ${names.join(', ')})`));
        }
      });
      for (const kind of SERVICE_KINDS) {
        const use = app[kind];
        if (!use) continue;
        const found = serviceServerOf(app, cluster.value.servers, kind);
        if ('error' in found) problems.push(a.yf.problemAt(use.server ? [kind, 'server'] : [kind], found.error));
      }
      if (!cluster.value.php.includes(app.php)) {
        const installed = cluster.value.php.map((v) => `"${v}"`).join(', ');
        problems.push(a.yf.problemAt(['php'], `PHP "${app.php}" is not installed by cluster '${app.cluster}' (${cluster.yf.file} has php: [${installed}])`));
      }
    }
    // One vhost per domain per cluster: a second would be ignored by nginx, silently.
    const key = `${app.cluster}\n${app.domain}`;
    const other = domains.get(key);
    if (other) {
      const p = other.yf.positionOf(['domain']);
      problems.push(
        a.yf.problemAt(['domain'], `'${app.domain}' is also the domain of app '${other.value.name}' (${other.yf.file}:${p.line}:${p.col}) on cluster '${app.cluster}'`),
      );
    } else domains.set(key, a);
  }

  const config = input.config;
  if (config) {
    for (const name of Object.keys(config.value.serve.tokens)) {
      if (!input.apps.has(name) && !input.brokenApps.has(name)) {
        problems.push(config.yf.problemAtKey(['serve', 'tokens', name], `no app '${name}' (no file apps/${name}.yml)`));
      }
    }
  }
  return problems;
}

/**
 * What Flight itself puts in every release: the revision file, and `vendor/`, which composer
 * installs per release (a shared one would mix releases' code).
 */
const RELEASE_LAYOUT = ['REVISION', 'vendor'];

const inside = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

/**
 * Why a `shared` entry cannot be, given the entries before it (pure): one entry inside another
 * would be linked twice (the inner link would land in shared/ through the outer one), and the
 * release layout Flight owns cannot be shared.
 */
export function sharedPathProblem(p: string, before: readonly string[]): string | undefined {
  const owned = RELEASE_LAYOUT.find((r) => inside(p, r));
  if (owned) return `'${p}' is part of the release Flight makes ('${owned}'): it cannot be shared`;
  // The same entry twice is the schema's to report (uniqueItems).
  const other = before.find((q) => q !== p && (inside(p, q) || inside(q, p)));
  if (other === undefined) return undefined;
  return inside(p, other)
    ? `'${p}' lies inside '${other}', shared already: share one or the other`
    : `'${p}' holds '${other}', shared already: share one or the other`;
}
