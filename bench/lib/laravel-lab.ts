/**
 * A lab of its own with the Laravel example app on it, for the benchmarks that measure pages
 * under load (bench/opcache.ts, bench/serving.ts): servers provisioned, the app configured (per
 * release vendor/ by composer, the four cache commands) with an env of its own, and releases of
 * fresh commits on demand. Never the default lab, whose PHP-FPM other runs share and reload.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeRun, flight, type FlightRun } from '../../lab-kit/cli.js';
import { labServers, makeDefs, makeLab } from '../../lab-kit/defs.js';
import { makeLaravelRepo } from '../../lab-kit/repos.js';
import type { LoadTarget } from '../../lab-kit/load.js';
import type { LabServer } from '../../lab-kit/ssh.js';
import { now } from '../../lab-kit/load.js';

export interface LaravelLab {
  servers: LabServer[];
  /** The definitions folder. */
  defs: string;
  app: string;
  domain: string;
  /** The load's targets: every web server's nginx, with the app's domain. */
  targets: LoadTarget[];
  /** Rewrite the app's definition: the shared settings, then `extra` lines (e.g. `release_nice: 0`). */
  writeApp(extra: string[]): void;
  /**
   * Reload PHP-FPM with an empty OPcache (the opcache-reload playbook): a cache that earlier
   * releases filled would restart, or stop caching, in the middle of a measurement.
   */
  freshOpcache(): Promise<void>;
  /** Release a new commit; `onSwitch` gets the time (now()) the first server switched. */
  release(label: string, onSwitch?: (t: number) => void): Promise<FlightRun>;
  /** Tear the lab down (or keep it, as asked), and the app's repository. */
  close(): Promise<void>;
}

export interface LaravelLabOptions {
  first: string;
  servers: number;
  app: string;
  domain: string;
  /** Run on a kept lab (its state dir), and keep it. */
  labDir?: string;
  keep?: boolean;
  log(line: string): void;
}

/**
 * The app's env: no database or Redis here (the page says so and goes on). Sessions and the cache
 * in memory: the load sends no cookie, so file sessions would pile up one file per request and
 * Laravel's session lottery (2 requests in 100) would scan them all, a latency spike of its own
 * that would hide what a bench measures.
 */
function benchEnv(app: string): string {
  return `APP_NAME=${app}\nAPP_ENV=production\nAPP_DEBUG=false\nAPP_KEY=base64:${randomBytes(32).toString('base64')}\nLOG_CHANNEL=single\nCACHE_DRIVER=array\nSESSION_DRIVER=array\nQUEUE_CONNECTION=sync\nDB_CONNECTION=sqlite\nDB_DATABASE=:memory:\n`;
}

function ok(run: FlightRun, what: string): FlightRun {
  if (run.code !== 0) throw new Error(`${what} failed:\n${describeRun(run)}`);
  return run;
}

export async function laravelLab(o: LaravelLabOptions): Promise<LaravelLab> {
  if (!o.first.startsWith('127.')) throw new Error('a bench lab stays on 127.0.0.0/8');
  const repo = makeLaravelRepo();
  let counter = 0;
  const lab = o.labDir
    ? await (async () => {
        const labDir = o.labDir!;
        const defs = await makeDefs({ labDir, first: o.first, servers: o.servers });
        return { labDir, defs, servers: await labServers(labDir), down: async () => (defs.cleanup(), { code: 0 } as FlightRun) };
      })()
    : await makeLab({ first: o.first, servers: o.servers });
  const defs = lab.defs.dir;
  const appFile = lab.defs.appFile(o.app);
  const close = async () => {
    repo.cleanup();
    if (o.keep || o.labDir) o.log(`lab kept: flight lab down --dir ${lab.labDir} --purge (definitions: ${defs})`);
    else {
      const down = await lab.down();
      if (down.code !== 0) o.log(`lab down failed: ${describeRun(down)}`);
    }
  };
  const writeApp = (extra: string[]) =>
    fs.writeFileSync(appFile, [
      `repo: ${JSON.stringify(repo.dir)}`,
      'cluster: lab',
      'php: "8.2"',
      `domain: ${o.domain}`,
      'release_commands: [artisan config:cache, artisan route:cache, artisan event:cache, artisan view:cache]',
      'shared: [storage/framework/cache, storage/framework/sessions, storage/logs, .env]',
      ...extra,
      'servers:',
      ...lab.servers.map((s) => `  - name: ${s.name}`),
      '',
    ].join('\n'));
  try {
    for (const f of fs.readdirSync(path.join(defs, 'apps'))) fs.rmSync(path.join(defs, 'apps', f));
    o.log(`provision ${lab.servers.length} server(s)`);
    ok(await flight(['provision', 'lab', '--defs', defs], { timeoutMs: 30 * 60_000 }), 'provision');
    writeApp([]);
    ok(await flight(['app:configure', o.app, '--defs', defs]), 'app:configure');
    const envFile = path.join(os.tmpdir(), `flight-bench-${process.pid}.env`);
    fs.writeFileSync(envFile, benchEnv(o.app), { mode: 0o600 });
    try {
      ok(await flight(['env:push', o.app, envFile, '--defs', defs]), 'env:push');
    } finally {
      fs.rmSync(envFile, { force: true });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    servers: lab.servers,
    defs,
    app: o.app,
    domain: o.domain,
    targets: lab.servers.filter((s) => s.web).map((s) => ({ name: s.name, address: s.address, host: o.domain })),
    writeApp,
    async freshOpcache() {
      ok(await flight(['opcache-reload', '-e', 'threshold=0', '--defs', defs], { bin: 'flight-play' }), 'opcache-reload');
    },
    async release(label, onSwitch) {
      const sha = repo.commit(`${label}-${++counter}`);
      let switched = false;
      // --force-unlock: the lab is the bench's own, and a bench stopped mid-release leaves its lock.
      const run = await flight(['app:release', o.app, sha, '--defs', defs, '--force-unlock'], {
        onEvent: (e) => {
          if (switched || e.event !== 'host_result' || e.task !== 'Switch to the new release' || e.status !== 'changed') return;
          switched = true;
          onSwitch?.(now());
        },
      });
      return ok(run, 'release');
    },
    close,
  };
}
