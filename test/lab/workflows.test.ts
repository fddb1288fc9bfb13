/**
 * The Flight workflows end to end, as an operator runs them: the real `flight` command against
 * the lab, with every claim checked on the servers themselves (system ssh, plain HTTP through
 * nginx), never through Flight's own code.
 *
 * 1. On the default lab (3 servers: lab-1 and lab-2 web, lab-3 worker, database and Redis server),
 *    with a private definitions folder whose apps release commits of a private repository of
 *    the Laravel example app (examples/laravel): provision (MariaDB and Redis on lab-3),
 *    configure (the app's database and Redis users, generated passwords in its env), release,
 *    sessions and jobs queued in Redis across releases, migrations once per release, the queue workers and the scheduler, a
 *    second run of provision and configure changing nothing, check mode of every playbook
 *    changing nothing, env push and pull and a rollback after a push, isolation between two
 *    apps on one server (files and Redis keys), and bad input refused before any server is touched.
 * 2. On a fresh lab of its own (127.0.0.20-22, torn down at the end): `--check` of provision,
 *    configure and release changes nothing on any server.
 *
 * The default lab may already be provisioned (provision is idempotent); other test files use it
 * too, so assertions look only at the demo and shop apps' own files and processes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  changedPerHost,
  changedTasks,
  describeRun,
  failures,
  flight,
  FLIGHT_PLAY_BIN,
  hostResults,
  recapHosts,
  ROOT,
  serverResults,
  type FlightRun,
} from '../../lab-kit/cli.js';
import { makeDefs } from '../../lab-kit/defs.js';
import { fetchPage, httpGet, visitor, waitFor } from '../../lab-kit/http.js';
import { makeLaravelRepo } from '../../lab-kit/repos.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { assertOk, privateLab } from '../support/flight.js';
import { ensureLab, labSkipReason, onHost } from '../support/lab.js';
import { inTerminal } from '../support/terminal.js';
import { forgetApp } from '../support/release-lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

const DOMAIN = 'demo.flight.test';
/** In the tags of the jobs this run queues: the database may hold jobs of earlier runs. */
const RUN = randomBytes(3).toString('hex');
const SHOP_DOMAIN = 'shop.flight.test';
/** The demo app's servers (inventory/apps/demo.yml): two web servers and the worker. */
const WEB = ['lab-1', 'lab-2'];
const WORKER = 'lab-3';

const server = (name: string): LabServer => {
  const s = servers?.find((x) => x.name === name);
  if (!s) throw new Error(`no lab server ${name}`);
  return s;
};

/** Every host in the recap, and none of them changed anything. */
function assertNoChange(run: FlightRun, hosts: string[]): void {
  assertOk(run);
  assert.deepEqual(Object.keys(recapHosts(run)).sort(), [...hosts].sort(), 'the recap lists every server of the run');
  assert.deepEqual(changedPerHost(run), Object.fromEntries(hosts.map((h) => [h, 0])), `a second run changes nothing, but:\n  ${changedTasks(run).join('\n  ')}`);
}

/** The demo page on every web server shows this sha, from cached config and routes, with its database answering. */
async function assertServing(sha: string, domain = DOMAIN, webs = WEB): Promise<void> {
  for (const name of webs) {
    const page = await fetchPage(server(name).address, domain);
    assert.equal(page.sha, sha, `${name} (Host: ${domain}) serves ${sha}: ${JSON.stringify(page)}`);
    assert.deepEqual([page.config, page.routes, page.db], ['cache', 'cache', 'mysql ok'], `${name}: Laravel's caches in use, MariaDB answering: ${JSON.stringify(page)}`);
    assert.match(page.cache ?? '', /^redis \d+$/, `${name}: the cache store is Redis, answering: ${JSON.stringify(page)}`);
  }
}

/**
 * A Laravel .env as an operator writes it (the database's and Redis's keys are Flight's, added
 * on the servers): the queue and the cache in Redis.
 */
function laravelEnv(name: string, extra = ''): string {
  return `APP_NAME=${name}\nAPP_ENV=production\nAPP_DEBUG=false\nAPP_KEY=base64:${randomBytes(32).toString('base64')}\nLOG_CHANNEL=single\nCACHE_DRIVER=redis\nSESSION_DRIVER=file\nQUEUE_CONNECTION=redis\n${extra}`;
}

/** The jobs the demo's workers processed, by tag: every run of each (GET /jobs, from the database). */
async function jobsByTag(address: string): Promise<Map<string, Record<string, string>[]>> {
  const res = await fetchPageText(address, '/jobs');
  const out = new Map<string, Record<string, string>[]>();
  for (const line of res.split('\n').filter(Boolean)) {
    const row = Object.fromEntries(line.split(' ').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    out.set(row.tag!, [...(out.get(row.tag!) ?? []), row]);
  }
  return out;
}

async function fetchPageText(address: string, urlPath: string): Promise<string> {
  const res = await httpGet(address, DOMAIN, urlPath);
  assert.equal(res.status, 200, `GET ${urlPath} on ${address}: ${res.body.slice(0, 300)}`);
  return res.body;
}

/**
 * A listing of what the demo app's playbooks manage on a server of the (shared) default lab:
 * config files with mode, owner, size and mtime, the release folders, `current`, the .env's hash,
 * the app users and the installed packages. Logs are left out: workers and cron write them.
 */
const DEMO_STATE = [
  `find /etc/nginx/conf.d /etc/nginx/sites-available/demo.conf /etc/nginx/sites-enabled/demo.conf /etc/php/8.2/cli/conf.d/90-flight.ini /etc/php/8.2/fpm/conf.d/90-flight.ini /etc/php/8.2/fpm/pool.d/demo.conf /etc/cron.d/flight-demo-scheduler /usr/local/sbin/flight-nginx-check /etc/redis /etc/flight -printf '%p %y %m %u %g %s %T@\\n' 2>/dev/null | sort`,
  // Other apps' programs live beside the demo's in conf.d: only the demo's are its state.
  `grep -l '^\\[program:demo-' /etc/supervisor/conf.d/* 2>/dev/null | xargs -r stat -c '%n %a %U %s %Y'`,
  `find /home/demo -maxdepth 2 \\( -path /home/demo/shared -o -path '/home/demo/shared/*' \\) -prune -o -printf '%p %y %m %u %g %l\\n' | sort`,
  'sha256sum /home/demo/shared/.env 2>&1',
  'id demo 2>&1; id -nG www-data | tr " " "\\n" | grep -x demo',
  // Only what provision installs: other test files add and remove packages of their own.
  "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' | grep -E '^(php|nginx|supervisor|cron|composer|git|curl|unzip|acl|ca-certificates|openssh-client)' | sort",
].join('; echo ---; ');

/** The same for a fresh server, wider: everything any playbook may write, and every user. */
const FRESH_STATE = [
  `find /etc/nginx /etc/php /etc/supervisor /etc/cron.d /etc/apt/sources.list.d /etc/apt/keyrings /usr/local/sbin /home /root/.cache -xdev -printf '%p %y %m %u %g %s %T@\\n' 2>/dev/null | sort`,
  'getent passwd | sort; getent group | sort',
  "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' | sort",
].join('; echo ---; ');

async function snapshot(list: LabServer[], cmd: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const s of list) out[s.name] = (await onHost(s, cmd)).split('\n');
  return out;
}

/** What bad input must leave alone: the releases, `current` and the release log on every server. */
const RELEASES_STATE = 'ls -1 /home/demo/releases; readlink /home/demo/current; cat /home/demo/.flight/releases.log 2>/dev/null | md5sum';

const labNames = () => servers!.map((s) => s.name);

test('the workflows on the default lab', { skip, timeout: 30 * 60_000 }, async (t) => {
  const t0 = Date.now();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-workflows-'));
  const repo = makeLaravelRepo(work);
  const [shaA, shaB, shaC] = [repo.shas[0]!, repo.commit('v2'), repo.commit('v3')];
  const defs = await makeDefs({ repo: repo.dir, parent: work });
  const D = ['--defs', defs.dir];
  // This test owns the demo and shop apps on the default lab: whatever an earlier use of the lab
  // left of them goes first.
  for (const app of ['demo', 'shop']) await forgetApp(servers!, app);
  t.after(() => {
    repo.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  });
  const step = (name: string) => t.diagnostic(`${name} done at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  // Later subtests need what earlier ones made; they skip (saying why) rather than fail in a heap.
  const done = { provision: false, configure: false, release: false };
  let cronBaseline: { lines: number; at: number } | undefined;
  let provisionedAt = Date.now();
  const baseEnv = path.join(work, 'demo-base.env');

  await t.test('provision the lab', async () => {
    const first = await flight(['provision', 'lab', ...D]);
    assertOk(first);
    assert.deepEqual(failures(first), []);
    // Provisioned means the programs the apps need are there, on the servers that need them.
    for (const s of servers!) {
      const have = await onHost(s, 'for p in php8.2-cli php8.2-fpm nginx supervisor cron composer git; do dpkg-query -W -f="\\${Package} \\${db:Status-Abbrev}\\n" $p 2>/dev/null | grep -q "ii $" && echo $p; done');
      const want = s.web ? ['php8.2-cli', 'php8.2-fpm', 'nginx', 'supervisor', 'cron', 'composer', 'git'] : ['php8.2-cli', 'supervisor', 'cron', 'composer', 'git'];
      assert.deepEqual(have.trim().split('\n').filter((p) => want.includes(p)), want, `${s.name}: installed packages`);
    }
    const limits = await onHost(server('lab-1'), 'php-fpm8.2 -i 2>/dev/null | grep -E "^(memory_limit|post_max_size|max_execution_time) "; nginx -T 2>/dev/null | grep -E "client_max_body_size|fastcgi_read_timeout" | sort -u');
    assert.match(limits, /memory_limit => 256M/, 'request_memory 256 -> PHP-FPM memory_limit');
    assert.match(limits, /post_max_size => 10M/, 'request_payload 10 -> post_max_size');
    assert.match(limits, /client_max_body_size 10m;/i, 'request_payload 10 -> nginx client_max_body_size');
    assert.match(limits, /fastcgi_read_timeout 30s?;/, 'request_duration 30 -> fastcgi_read_timeout');
    // The database server: MariaDB running, listening on lab-3's own address only. The lab's
    // servers share this machine's network, so `ss` also lists what other labs listen on: none
    // of this lab's other addresses, and no wildcard, may be among them.
    const listening = (await onHost(server(WORKER), "ss -Hltn 'sport = :3306' | awk '{print $4}'")).trim().split('\n');
    assert.ok(listening.includes(`${server(WORKER).address}:3306`), `MariaDB listens on the database server's address\n${listening.join('\n')}`);
    const elsewhere = listening.filter((a) => /^(0\.0\.0\.0|\*|\[::\]):/.test(a) || WEB.some((name) => a === `${server(name).address}:3306`));
    assert.deepEqual(elsewhere, [], 'MariaDB listens on the database server\'s address only');
    for (const name of WEB) assert.equal((await sshRun(server(name), 'command -v mariadbd')).code, 1, `${name} has no MariaDB`);
    // Redis too, and nobody gets in without a user and a password.
    const redisListening = (await onHost(server(WORKER), "ss -Hltn 'sport = :6379' | awk '{print $4}'")).trim();
    assert.equal(redisListening, `${server(WORKER).address}:6379`, 'Redis listens on the database server\'s address only');
    assert.match(await onHost(server(WORKER), `redis-cli -h ${server(WORKER).address} PING`), /NOAUTH/, 'Redis refuses a client without a user');
    assert.equal((await onHost(server(WORKER), 'stat -c "%a %U" /etc/flight/redis/admin.password')).trim(), '600 root');
    done.provision = true;
    provisionedAt = Date.now();
    step('provision');
  });

  await t.test('configure the demo app', { skip: !done.provision && 'needs a provisioned lab' }, async () => {
    assertOk(await flight(['app:configure', 'demo', ...D]));
    for (const name of WEB) {
      const s = server(name);
      const pool = await onHost(s, 'cat /etc/php/8.2/fpm/pool.d/demo.conf');
      assert.match(pool, /^user = demo$/m, `${name}: the pool runs as the app user`);
      assert.match(pool, /^listen = \S*demo\S*\.sock$/m, `${name}: the pool has its own unix socket`);
      assert.match(pool, /^pm.max_children = 10$/m, `${name}: pm settings from the server's web entry`);
      assert.equal((await onHost(s, 'readlink /etc/nginx/sites-enabled/demo.conf')).trim(), '/etc/nginx/sites-available/demo.conf');
      assert.equal((await onHost(s, 'stat -c "%a %U %G" /home/demo')).trim(), '750 demo demo', `${name}: the app home is closed to other users`);
    }
    // The database and its user, with a password made once, kept root-only on lab-3 and in the
    // app's env (0600, the app's) on each of its servers; a second configure keeps them.
    const db = server(WORKER);
    assert.equal((await onHost(db, 'stat -c "%a %U" /etc/flight/mariadb/demo.password')).trim(), '600 root');
    assert.equal((await onHost(db, "mariadb -N -e \"SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'demo'\"")).trim(), '1', 'the database exists');
    assert.equal((await onHost(db, "mariadb -N -e \"SELECT CONCAT(user, '@', host) FROM mysql.user WHERE user = 'demo'\"")).trim(), 'demo@127.0.0.1', 'one user, from the cluster\'s side only');
    // Its Redis user the same way: a password made once, only its SHA-256 in the ACL file.
    assert.equal((await onHost(db, 'stat -c "%a %U" /etc/flight/redis/demo.password')).trim(), '600 root');
    assert.equal((await onHost(db, 'stat -c "%a %U %G" /etc/redis/users.acl')).trim(), '640 root redis');
    assert.equal((await sshRun(db, 'grep -F -f /etc/flight/redis/demo.password /etc/redis/users.acl')).code, 1, 'the ACL file holds no password');
    for (const s of servers!) {
      assert.equal((await onHost(s, 'stat -c "%a %U %G" /home/demo/shared/.env')).trim(), '600 demo demo', `${s.name}: the env is 0600, the app's`);
      assert.equal((await onHost(s, 'grep -c "^DB_PASSWORD=" /home/demo/shared/.env')).trim(), '1', `${s.name}: one DB_PASSWORD in the env`);
      assert.equal((await onHost(s, 'grep -c "^REDIS_PASSWORD=" /home/demo/shared/.env')).trim(), '1', `${s.name}: one REDIS_PASSWORD in the env`);
    }
    // That the env's credentials are the database's, the pages say below (db: mysql ok).
    // The operator's own part of the env, pushed once: the database keys stay.
    fs.writeFileSync(baseEnv, laravelEnv('demo', 'APP_GREETING="Hello from the workflows"\n'), { mode: 0o600 });
    assertOk(await flight(['env:push', 'demo', baseEnv, ...D]));
    for (const s of servers!) assert.equal((await onHost(s, 'grep -c "^DB_PASSWORD=\\|^REDIS_PASSWORD=" /home/demo/shared/.env')).trim(), '2', `${s.name}: env:push kept the database's and Redis's keys`);
    done.configure = true;
    step('configure');
  });

  await t.test('release: every web server serves the sha; sessions, queued jobs and migrations across releases', { skip: !done.configure && 'needs a configured app' }, async () => {
    const a = await flight(['app:release', 'demo', shaA, ...D]);
    assertOk(a);
    await assertServing(shaA);
    // The scheduler's log is shared between releases: count its lines now, look again at the end.
    cronBaseline = { lines: Number((await onHost(server(WORKER), 'cat /home/demo/shared/storage/logs/schedule.log 2>/dev/null | wc -l')).trim()), at: Date.now() };
    // A visitor's session (file sessions in shared/, on the server it talks to).
    const v = visitor(DOMAIN);
    const lab1 = server('lab-1').address;
    assert.equal((await v.page(lab1)).counter, '1');

    // A job queued while no worker runs waits in Redis; the release starts the workers
    // again, on the new release, and one of them runs it.
    await onHost(server(WORKER), "supervisorctl stop 'demo-default:*' >/dev/null");
    assert.equal(await fetchPageText(lab1, `/dispatch?tag=${RUN}-queued-before-b`), `dispatched: ${RUN}-queued-before-b\n`);

    const b = await flight(['app:release', 'demo', shaB.slice(0, 10), ...D]);
    assertOk(b);
    await assertServing(shaB);
    const releaseB = (await onHost(server(WORKER), 'readlink /home/demo/current')).trim().split('/').pop()!;
    for (const s of servers!) {
      const current = (await onHost(s, 'readlink /home/demo/current')).trim();
      assert.match(current, new RegExp(`^/home/demo/releases/\\d{8}T\\d{6}Z-${shaB.slice(0, 12)}$`), `${s.name}: current names the release of ${shaB}`);
      assert.equal((await onHost(s, `cat ${current}/REVISION`)).trim(), shaB, `${s.name}: REVISION holds the full sha`);
      const log = await onHost(s, 'tail -n 2 /home/demo/.flight/releases.log');
      assert.match(log, new RegExp(`-${shaA.slice(0, 12)}\\t${shaA}\\t.*\\tok\\n.*-${shaB.slice(0, 12)}\\t${shaB}\\t.*\\tok\\n$`), `${s.name}: the release log records both releases`);
      // Migrations ran once per release, on lab-3 only (its deploy_commands).
      const migrated = (await onHost(s, `grep -c 'artisan migrate' /home/demo/.flight/release-${releaseB}.log || true`)).trim();
      assert.equal(migrated, s.name === WORKER ? '1' : '0', `${s.name}: migrate ran ${s.name === WORKER ? 'once' : 'not at all'} in release ${releaseB}`);
      // The release's work ran below nginx and PHP-FPM (release_nice, default 10).
      assert.match(await onHost(s, `cat /home/demo/.flight/release-${releaseB}.log`), /^\$ composer .* \(at nice 10\)$/m, `${s.name}: composer ran at a lower priority`);
    }
    assert.equal((await v.page(lab1)).counter, '2', 'the session outlived the release');
    const ran = await waitFor(async () => (await jobsByTag(lab1)).get(`${RUN}-queued-before-b`), { timeoutMs: 20_000, intervalMs: 500 });
    assert.ok(ran, 'the job queued before the release was run after it');
    assert.deepEqual(ran.map((r) => [r.release, r.host]), [[releaseB, 'lab-3']], 'once, by a worker on lab-3 running the new release');

    // Jobs queued without pause across two more releases (A again, then B again): every one is
    // run, none twice.
    const sent: string[] = [];
    let dispatching = true;
    const dispatcher = (async () => {
      for (let i = 0; dispatching; i++) {
        const tag = `${RUN}-steady-${i}`;
        const address = server(WEB[i % 2]!).address;
        const res = await httpGet(address, DOMAIN, `/dispatch?tag=${tag}`);
        assert.equal(res.status, 200, `dispatch ${tag} on ${address}: ${res.status} ${res.body.slice(0, 200)}`);
        sent.push(tag);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      assertOk(await flight(['app:release', 'demo', shaA, ...D]));
      assertOk(await flight(['app:release', 'demo', shaB, ...D]));
    } finally {
      dispatching = false;
      await dispatcher;
    }
    await assertServing(shaB);
    let jobs = new Map<string, Record<string, string>[]>();
    const all = await waitFor(async () => {
      jobs = await jobsByTag(lab1);
      return sent.every((t) => jobs.has(t)) ? jobs : undefined;
    }, { timeoutMs: 60_000, intervalMs: 1000 });
    assert.ok(all, `every job queued across the releases ran: missing ${sent.filter((t) => !jobs.has(t)).join(', ')}`);
    const twice = sent.filter((t) => jobs.get(t)!.length !== 1);
    assert.deepEqual(twice, [], 'no job ran twice');
    t.diagnostic(`${sent.length} jobs queued across two releases, each run once`);
    assert.equal((await v.page(lab1)).counter, '3', 'the session outlived two more releases');
    done.release = true;
    step('releases');
  });

  await t.test('queue workers: 3 under supervisor as the app user, on the new release', { skip: !done.release && 'needs a release' }, async () => {
    const w = server(WORKER);
    const status = await onHost(w, 'supervisorctl status');
    const running = status.split('\n').filter((l) => /^demo-default:demo-default_\d+\s+RUNNING\b/.test(l));
    assert.equal(running.length, 3, `3 demo-default workers RUNNING:\n${status}`);
    // queue:restart after the switch: each worker exits after its job and supervisor starts it
    // again from `current`; the release waited for that, so all three run there as it ends.
    const release = `-${shaB.slice(0, 12)}`;
    const rows = (await onHost(w, 'for p in $(pgrep -f "^/usr/bin/php8.2 /home/demo/current/artisan queue:work"); do echo "$(ps -o user= -p $p) $(readlink /proc/$p/cwd)"; done')).trim().split('\n');
    assert.ok(rows.length === 3 && rows.every((r) => r.startsWith('demo ') && r.endsWith(release)), `3 workers as user demo in the release of ${shaB}, got:\n${rows.join('\n')}`);
    const users = (await onHost(w, 'ps -o user=,args= -C php8.2')).split('\n').filter((l) => l.includes('/home/demo/'));
    assert.deepEqual([...new Set(users.map((l) => l.split(/\s+/)[0]))], ['demo'], 'every demo PHP process runs as demo');
    for (const name of WEB) {
      assert.equal((await sshRun(server(name), 'ls /etc/supervisor/conf.d | grep -c demo')).stdout.trim(), '0', `${name} runs no demo workers (it has no queues)`);
    }
  });

  // After the releases, so configure's second run covers the workers and the cron entry too
  // (a first configure before any release has no `current` to run them from).
  await t.test('a second run of provision changes nothing', { skip: !done.provision && 'needs a provisioned lab' }, async () => {
    const run = await flight(['provision', 'lab', ...D]);
    // The package lists are refreshed when older than an hour (cache_valid_time 3600). On a lab
    // reused from earlier, they may have crossed the hour since the first run: that refresh is
    // the rule doing its job, not a change the first run left undone.
    const crossed = hostResults(run, { status: 'changed', task: 'Package lists up to date' })
      .filter((e) => Number(/lists are (\d+)s old/.exec(e.msg ?? '')?.[1]) <= 3600 + (Date.now() - provisionedAt) / 1000 + 60);
    if (crossed.length) {
      t.diagnostic(`package lists crossed the hour since the first provision on ${crossed.map((e) => e.host).join(', ')}: refreshed`);
      const again = await flight(['provision', 'lab', ...D]);
      assertNoChange(again, labNames());
    } else assertNoChange(run, labNames());
  });

  await t.test('a second run of configure changes nothing', { skip: !done.release && 'needs a release' }, async () => {
    assertNoChange(await flight(['app:configure', 'demo', ...D]), labNames());
    step('second runs');
  });

  await t.test('check mode of every playbook changes nothing on the provisioned lab', { skip: !done.release && 'needs a release' }, async () => {
    const before = await snapshot(servers!, DEMO_STATE);
    const check = (...args: string[]) => flight([...args, ...D, '--check', '--diff']);
    const envFile = path.join(work, 'check.env');
    fs.writeFileSync(envFile, 'APP_GREETING=never-pushed\n', { mode: 0o600 });
    const pulled = path.join(work, 'check-pull.env');
    // At once: none of them may change anything, so none can disturb another.
    const [provision, configure, release, push, pull] = await Promise.all([
      check('provision', 'lab'),
      check('app:configure', 'demo'),
      check('app:release', 'demo', shaC),
      check('env:push', 'demo', envFile),
      check('env:pull', 'demo', '--out', pulled),
    ]);
    const runs = { provision, configure, release, push, pull };
    // What matters most first: whatever the runs reported, the servers are as they were.
    assert.deepEqual(await snapshot(servers!, DEMO_STATE), before, 'no server changed');
    await assertServing(shaB);
    assert.equal(fs.existsSync(pulled), false, 'env:pull --check writes no local file');
    for (const r of Object.values(runs)) {
      assertOk(r);
      assert.equal(r.events[0]?.event === 'playbook_start' && r.events[0].check, true, 'the run says it is a check');
      assert.doesNotMatch(r.stdout + r.stderr, /never-pushed/, `${r.args.join(' ')}: the .env value is never printed, even with --diff`);
    }
    // Provision's "nothing to do" is the second-run subtest's business; configure's is cheap here.
    assert.deepEqual(changedPerHost(runs.configure), { 'lab-1': 0, 'lab-2': 0, 'lab-3': 0 }, `nothing to do after configure:\n  ${changedTasks(runs.configure).join('\n  ')}`);
    assert.deepEqual(hostResults(runs.release, { status: 'changed', task: 'Upload and extract the release' }).map((e) => e.host).sort(), labNames(), `a release of a new sha reports the upload it would make\n${describeRun(runs.release)}`);
    assert.deepEqual(hostResults(runs.push, { status: 'changed', task: 'Upload .env' }).map((e) => e.host).sort(), labNames(), 'env:push --check reports the upload it would make on every server');
    step('check mode on the provisioned lab');
  });

  await t.test('env:push changes what the page shows; env:pull gets the same file back; the value is never printed', { skip: !done.release && 'needs a release' }, async () => {
    const original = path.join(work, 'original.env');
    assertOk(await flight(['env:pull', 'demo', '--out', original, ...D]));
    const greeting = `hello-${randomBytes(6).toString('hex')}`;
    const secret = `s3cret-${randomBytes(12).toString('hex')}`;
    const content = laravelEnv('demo', `APP_GREETING=${greeting}\nAPP_SECRET=${secret}\n`);
    const envFile = path.join(work, 'demo.env');
    fs.writeFileSync(envFile, content, { mode: 0o600 });
    try {
      const push = await flight(['env:push', 'demo', envFile, ...D, '--diff', '-vv']);
      assertOk(push);
      assert.equal(hostResults(push, { status: 'changed', task: 'Upload .env' }).length, 3, 'uploaded to all three servers');
      for (const name of WEB) {
        const page = await fetchPage(server(name).address, DOMAIN);
        assert.equal(page.greeting, greeting, `${name}: the page shows the pushed APP_GREETING (config cache refreshed)`);
        assert.equal(page.config, 'cache', `${name}: still from the config cache`);
        assert.equal(page.sha, shaB, `${name}: no release was made`);
      }
      for (const s of servers!) {
        assert.equal((await onHost(s, 'stat -c "%a %U %G" /home/demo/shared/.env')).trim(), '600 demo demo', `${s.name}: .env is 0600, owned by demo`);
        const onServer = await onHost(s, 'cat /home/demo/shared/.env');
        assert.ok(onServer.startsWith(content), `${s.name}: .env holds exactly what was pushed, first`);
        assert.equal((await onHost(s, 'grep -c "^DB_PASSWORD=" /home/demo/shared/.env')).trim(), '1', `${s.name}: and, after it, the database's keys Flight keeps`);
      }
      // The workers were restarted: the next job runs with the pushed value.
      const lab1 = server('lab-1').address;
      assert.equal(await fetchPageText(lab1, `/dispatch?tag=${RUN}-after-push`), `dispatched: ${RUN}-after-push\n`);
      const job = await waitFor(async () => (await jobsByTag(lab1)).get(`${RUN}-after-push`), { timeoutMs: 20_000, intervalMs: 500 });
      assert.equal(job && decodeURIComponent(job[0]!.greeting!), greeting, 'the next job saw the pushed greeting, with no release');

      // A rollback serves the previous release with the env in place, not the one its config
      // cache was built from; going forward again does the same.
      const releaseB = (await onHost(server(WEB[0]!), 'readlink /home/demo/current')).trim().split('/').pop()!;
      assertOk(await flight(['app:rollback', 'demo', ...D]));
      for (const name of WEB) {
        const page = await fetchPage(server(name).address, DOMAIN);
        assert.deepEqual([page.sha, page.greeting, page.config], [shaA, greeting, 'cache'], `${name}: the previous release, with the pushed env, from its rebuilt cache`);
      }
      assertOk(await flight(['app:rollback', 'demo', '--to', releaseB, ...D]));
      for (const name of WEB) {
        const page = await fetchPage(server(name).address, DOMAIN);
        assert.deepEqual([page.sha, page.greeting], [shaB, greeting], `${name}: back on B, still the pushed env`);
      }

      // With --json and with the plain reporter (what a person sees), at once.
      const [out, outPlain] = [path.join(work, 'pulled.env'), path.join(work, 'pulled-plain.env')];
      const [pull, plain] = await Promise.all([
        flight(['env:pull', 'demo', '--out', out, ...D, '--diff', '-vv']),
        flight(['env:pull', 'demo', '--out', outPlain, ...D, '--diff', '-vv'], { json: false }),
      ]);
      assertOk(pull);
      assert.equal(plain.code, 0, describeRun(plain));
      for (const f of [out, outPlain]) {
        assert.equal(fs.statSync(f).mode & 0o777, 0o600, `${f} is 0600`);
        assert.equal(fs.readFileSync(f, 'utf8'), content, `${f} holds what the server has`);
      }
      for (const r of [push, pull, plain]) {
        const all = r.stdout + r.stderr;
        assert.ok(!all.includes(secret), `flight ${r.args.join(' ')} printed the secret`);
        assert.ok(!all.includes(greeting), `flight ${r.args.join(' ')} printed a value from the .env`);
      }
    } finally {
      // Leave the demo as it was for whoever uses the lab next.
      if (fs.existsSync(original)) await flight(['env:push', 'demo', original, ...D]);
    }
    step('env push/pull');
  });

  await t.test('a failing migration or cache command leaves every server on the old release, serving', { skip: !done.release && 'needs a release' }, async () => {
    const before = await snapshot(servers!, 'readlink /home/demo/current');
    const migration = "<?php\n\nuse Illuminate\\Database\\Migrations\\Migration;\n\nclass BreakOnPurpose extends Migration\n{\n    public function up()\n    {\n        throw new RuntimeException('this migration fails on purpose');\n    }\n}\n";
    const badMigration = repo.commit('v4-bad-migration', { 'database/migrations/2030_01_01_000000_break_on_purpose.php': migration });
    const m = await flight(['app:release', 'demo', badMigration, ...D]);
    assert.equal(m.code, 2, describeRun(m));
    assert.match(describeRun(m), /failed on lab-3 at 'Deploy commands for this server'.*No server was switched/s, describeRun(m));
    assert.deepEqual(await snapshot(servers!, 'readlink /home/demo/current'), before, 'no server switched');
    await assertServing(shaB);

    // A closure in a config file, which config:cache cannot write out: the release commands
    // fail on every server (the migration is fixed, so it is not what stops this one).
    const badConfig = repo.commit('v5-closure-config', {
      'database/migrations/2030_01_01_000000_break_on_purpose.php': migration.replace("throw new RuntimeException('this migration fails on purpose');", '// fixed'),
      'config/hooks.php': "<?php\n\nreturn ['on_boot' => function () { return 'cannot be cached'; }];\n",
    });
    const c = await flight(['app:release', 'demo', badConfig, ...D]);
    assert.equal(c.code, 2, describeRun(c));
    assert.match(describeRun(c), /at 'Release commands': rc=1: .*Closure::__set_state.*No server was switched/s, describeRun(c));
    assert.deepEqual(await snapshot(servers!, 'readlink /home/demo/current'), before, 'no server switched');
    await assertServing(shaB);
    // The view the release cached still renders.
    const view = await httpGet(server('lab-1').address, DOMAIN, '/view');
    assert.equal(view.status, 200, view.body.slice(0, 300));
    step('failures before the switch');
  });

  await t.test("isolation: neither app's user can read the other's files on lab-1, nor its keys in Redis", { skip: !done.release && 'needs a release' }, async () => {
    assertOk(await flight(['app:configure', 'shop', ...D]));
    const shopEnv = path.join(work, 'shop.env');
    fs.writeFileSync(shopEnv, laravelEnv('shop'), { mode: 0o600 });
    assertOk(await flight(['env:push', 'shop', shopEnv, ...D]));
    assertOk(await flight(['app:release', 'shop', shaA, ...D]));
    const lab1 = server('lab-1');
    const shopPage = await fetchPage(lab1.address, SHOP_DOMAIN);
    assert.equal(shopPage.sha, shaA, 'shop serves its own release');
    assert.equal(shopPage.user, 'shop', 'shop runs PHP as shop');
    assert.equal((await fetchPage(lab1.address, DOMAIN)).user, 'demo', 'demo runs PHP as demo');

    const tries = (['shop', 'demo'] as const).flatMap((me) => {
      const other = me === 'shop' ? 'demo' : 'shop';
      return [`cat /home/${other}/shared/.env`, `ls /home/${other}/releases`].map((cmd) => ({ me, other, cmd }));
    });
    await Promise.all(tries.map(async ({ me, other, cmd }) => {
      // The files exist and their owner can read them: a refusal below is isolation, not absence.
      assert.equal((await sshRun(lab1, `runuser -u ${other} -- ${cmd} >/dev/null`)).code, 0, `${other} can run: ${cmd}`);
      const r = await sshRun(lab1, `runuser -u ${me} -- ${cmd}`);
      assert.notEqual(r.code, 0, `${me} must not be able to: ${cmd}\n${r.stdout}`);
      assert.match(r.stderr, /Permission denied/, `${me}: ${cmd}`);
      assert.equal(r.stdout, '', `${me} got nothing from: ${cmd}`);
    }));

    // In Redis, each app's user (with the credentials from its own env) reaches its own keys
    // only: it can neither read nor wipe the other's cache or queue.
    assert.match((await fetchPage(lab1.address, SHOP_DOMAIN)).cache ?? '', /^redis \d+$/, 'shop caches in Redis too');
    const redisPassword = async (app: string) => (await onHost(lab1, `sed -n 's/^REDIS_PASSWORD=//p' /home/${app}/shared/.env`)).trim();
    const kv = server(WORKER);
    const asApp = async (app: string, ...args: string[]) =>
      (await onHost(kv, `REDISCLI_AUTH=${await redisPassword(app)} redis-cli --no-auth-warning -h ${kv.address} --user ${app} ${args.join(' ')}`)).trim();
    for (const [me, other] of [['shop', 'demo'], ['demo', 'shop']] as const) {
      assert.equal(await asApp(me, 'SET', `${me}:isolation`, RUN), 'OK', `${me} writes its own keys`);
      assert.equal(await asApp(me, 'GET', `${me}:isolation`), RUN, `${me} reads its own keys`);
      assert.match(await asApp(me, 'GET', `${other}:isolation`), /NOPERM/, `${me} cannot read ${other}'s keys`);
      assert.match(await asApp(me, 'DEL', `${other}:isolation`), /NOPERM/, `${me} cannot delete ${other}'s keys`);
      assert.match(await asApp(me, 'FLUSHALL'), /NOPERM/, `${me} cannot wipe Redis`);
      assert.match(await asApp(me, 'KEYS', '*'), /NOPERM/, `${me} cannot list every key`);
    }
    assert.equal(await asApp('demo', 'GET', 'demo:isolation'), RUN, "demo's key outlived shop's attempts");
    step('isolation');
  });

  await t.test('bad input: a clear error, the right exit code, and no server touched', async (st) => {
    const before = await snapshot(servers!, RELEASES_STATE);
    // One broken copy of the definitions per mistake, so every refusal can run at once.
    const badApp = defs.copy();
    const badCluster = defs.copy();
    st.after(() => {
      badApp.cleanup();
      badCluster.cleanup();
    });
    const app = fs.readFileSync(badApp.appFile('demo'), 'utf8');
    fs.writeFileSync(badApp.appFile('demo'), app.replace(/^cluster: lab$/m, 'cluster: lab\ncolour: blue'));
    assert.notEqual(fs.readFileSync(badApp.appFile('demo'), 'utf8'), app, 'the bad key went in');
    fs.appendFileSync(path.join(badCluster.dir, 'clusters', 'lab.yml'), 'request_timeout: 30\n');

    // Values of the wrong kind, each in a copy of its own: refused at load time, file and line named.
    const PWNED = `/tmp/flight-pwned-${RUN}`;
    const replaceLine = (file: string, re: RegExp, line: string) => {
      const text = fs.readFileSync(file, 'utf8');
      assert.match(text, re, `${file} has the line to replace`);
      fs.writeFileSync(file, text.replace(re, line));
    };
    const hostile: Array<[string, (d: typeof defs) => void, string[], RegExp]> = [
      ['a repo that is a git option', (d) => replaceLine(d.appFile('demo'), /^repo: .*$/m, `repo: "--upload-pack=touch ${PWNED}"`), ['app:release', 'demo', shaA], /apps\/demo\.yml:\d+:\d+: repo: must be a git repository/],
      ['a repo through the ext:: transport', (d) => replaceLine(d.appFile('demo'), /^repo: .*$/m, `repo: "ext::sh -c touch% ${PWNED}"`), ['app:release', 'demo', shaA], /apps\/demo\.yml:\d+:\d+: repo: must be a git repository/],
      ['a host that is an ssh option', (d) => replaceLine(path.join(d.dir, 'clusters', 'lab.yml'), /^( +host: )127\.0\.0\.\d+$/m, `$1"-oProxyCommand=touch ${PWNED}"`), ['provision', 'lab'], /clusters\/lab\.yml:\d+:\d+: servers\[0\]\.host: must be a host/],
      ['a listen address carrying nginx syntax', (d) => replaceLine(path.join(d.dir, 'clusters', 'lab.yml'), /^( +listen: )\S+$/m, '$1"127.0.0.2:80 default_server; location / { return 200; }"'), ['provision', 'lab'], /clusters\/lab\.yml:\d+:\d+: servers\[0\]\.listen: must be the address nginx listens on/],
      ['a domain label over 63 characters', (d) => replaceLine(d.appFile('demo'), /^domain: .*$/m, `domain: ${'a'.repeat(64)}.flight.test`), ['app:configure', 'demo'], /apps\/demo\.yml:\d+:\d+: domain: must be a lowercase domain name/],
      ['a queue command ending in a supervisor comment', (d) => replaceLine(d.appFile('demo'), /^( +command: )queue:work .*$/m, '$1"queue:work ; numprocs=99"'), ['app:configure', 'demo'], /apps\/demo\.yml:\d+:\d+: servers\[2\]\.queues\[0\]\.command: must be an artisan command/],
      ['a shared path inside another', (d) => replaceLine(d.appFile('demo'), /^shared:$/m, 'shared:\n  - storage/framework'), ['app:release', 'demo', shaA], /apps\/demo\.yml:\d+:\d+: shared\[\d\]: 'storage\/framework\/cache' lies inside 'storage\/framework'/],
    ];
    const hostileDefs = hostile.map(([, edit]) => {
      const d = defs.copy();
      edit(d);
      return d;
    });
    st.after(() => hostileDefs.forEach((d) => d.cleanup()));

    const cases: Array<[string[], RegExp]> = [
      ...hostile.map(([, , args, message], i): [string[], RegExp] => [[...args, '--defs', hostileDefs[i]!.dir], message]),
      [['release', '-e', 'app=demo', '-e', 'sha=$(id)', ...D], /-e sha: "\$\(id\)" is not valid: expected a commit sha/],
      [['release', '-e', 'app=../demo', '-e', `sha=${shaA}`, ...D], /-e app: "\.\.\/demo" is not valid: expected an app name/],
      [['app:release', 'demo', shaA, '--defs', badApp.dir], /apps\/demo\.yml:\d+:\d+: unknown key 'colour'/],
      [['app:configure', 'demo', '--defs', badApp.dir], /apps\/demo\.yml:\d+:\d+: unknown key 'colour'/],
      [['provision', 'lab', '--defs', badCluster.dir], /clusters\/lab\.yml:\d+:\d+: unknown key 'request_timeout'/],
      [['app:release', 'nope', shaA, ...D], /unknown app 'nope'/],
      [['app:configure', 'nope', ...D], /unknown app 'nope'/],
      [['env:push', 'nope', ...D], /unknown app 'nope'/],
      [['provision', 'nope', ...D], /unknown cluster 'nope'/],
      [['app:release', 'demo', 'zzz', ...D], /the sha "zzz" is not valid: expected a commit sha/],
      [['app:deploy', 'demo', ...D], /unknown verb 'app:deploy'/],
    ];
    const runs = await Promise.all(cases.map(([args]) => (args[0] === 'release' ? flight(args, { bin: 'flight-play' }) : flight(args))));
    cases.forEach(([, message], i) => {
      // Refused before any play started: exit 5, the problem named, no event at all.
      const r = runs[i]!;
      assert.equal(r.code, 5, describeRun(r));
      assert.match(r.stderr, message, describeRun(r));
      assert.deepEqual(r.events, [], `nothing ran:\n${r.stdout}`);
    });

    // Valid hex, but no commit of the repository: found by git on the control machine, before
    // any server is reached. It fails as a task (exit 2), on the control machine only.
    const missing = 'deadbeef'.repeat(5);
    const r = await flight(['app:release', 'demo', missing, ...D]);
    assert.equal(r.code, 2, describeRun(r));
    assert.ok(r.recap, describeRun(r));
    assert.equal(r.recap.connections, 0, 'no ssh connection was opened');
    const ran = serverResults(r);
    assert.deepEqual([...new Set(ran.map((e) => e.task))], ['Archive the commit on the control machine'], 'only the archive step ran');
    assert.match(ran[0]?.msg ?? '', new RegExp(`${missing} is not a commit of ${repo.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(ran.length, 1, 'it ran once (run_once), on the control machine');

    assert.deepEqual(await snapshot(servers!, RELEASES_STATE), before, 'no release, switch or log line was made anywhere');
    assert.equal(fs.existsSync(PWNED), false, 'no hostile value ran a command on the control machine');
    for (const s of servers!) assert.equal((await sshRun(s, `test -e ${PWNED}`)).code, 1, `${s.name}: no hostile value ran a command`);
    step('bad input');
  });

  await t.test('configure refuses an account Flight did not make, and changes nothing', async (st) => {
    // A person's account on lab-1 whose name an app file now takes.
    const lab1 = server('lab-1');
    const name = 'pat';
    await onHost(lab1, `userdel -r ${name} >/dev/null 2>&1; useradd --comment 'Pat Doe,,,' --create-home ${name}`);
    st.after(async () => void (await sshRun(lab1, `userdel -r ${name} >/dev/null 2>&1`)));
    const d = defs.copy();
    st.after(() => d.cleanup());
    fs.writeFileSync(d.appFile(name), fs.readFileSync(d.appFile('shop'), 'utf8').replace(/^domain: .*$/m, 'domain: pat.flight.test').replace(/^redis: true\n/m, ''));
    const account = () => onHost(lab1, `getent passwd ${name}; id -Gn ${name}; stat -c '%a %U' /home/${name}; ls -A /home/${name} | sort`);
    const before = await account();
    const r = await flight(['app:configure', name, '--defs', d.dir]);
    assert.equal(r.code, 2, describeRun(r));
    assert.match(describeRun(r), /user pat already exists \(uid \d+, home \/home\/pat, comment 'Pat Doe,,,'\) and is not one this task made: refusing to take it over/);
    assert.equal(await account(), before, "the person's account, groups and home are as they were");
    for (const f of [`/etc/php/8.2/fpm/pool.d/${name}.conf`, `/etc/nginx/sites-enabled/${name}.conf`, `/home/${name}/releases`]) {
      assert.equal((await sshRun(lab1, `test -e ${f}`)).code, 1, `${f} was not made`);
    }
  });

  await t.test('the terminal view: one row per host while a release runs, a few lines once it is done, and a failure in full', { skip: !done.release && 'needs a release' }, async () => {
    // In a real terminal (tmux, 140x45), as a person runs it: the bundle npm installs. Last of
    // the releases here: the tests above read the release history.
    const bundle = path.join(ROOT, 'dist', 'flight.cjs');
    const term = await inTerminal(['node', bundle, 'app:release', 'demo', shaB, ...D], { width: 140, height: 45, socket: `flight-view-${RUN}` });
    try {
      const rowOf = (lines: string[], host: string) => lines.filter((l) => new RegExp(`\\s${host}\\s+[█░]+ +\\d+/\\d+`).test(l));
      const during = await term.waitFor((l) => labNames().every((h) => rowOf(l, h).length === 1));
      assert.match(during.join('\n'), /Release: 3 hosts, \d+\/\d+ tasks/, `the play's line is over the rows\n${during.join('\n')}`);
      const end = await term.exited();
      const text = end.lines.join('\n');
      assert.equal(end.code, 0, text);
      assert.ok(end.lines.length <= 15, `a successful release leaves at most 15 lines, not ${end.lines.length}:\n${text}`);
      assert.match(text, /✔ Release: 3 hosts, (\d+)\/\1 tasks/, text);
      for (const h of labNames()) assert.equal(rowOf(end.lines, h).length, 0, `${h}'s row folded into the play's line\n${text}`);
      assert.match(text, /RECAP: .* in all/, text);
      for (const h of labNames()) assert.match(text, new RegExp(`^  ${h}\\s+\\d+\\s+\\d+\\s+0\\s+\\d+\\s+0\\s+\\S+$`, 'm'), `${h} in the recap table\n${text}`);
      assert.ok(end.lines.every((l) => [...l].length <= 140), 'no line is wider than the terminal');
    } finally {
      await term.close();
    }
    await assertServing(shaB);

    // A step that fails on lab-2 only: its row stays, red, and under the view the task, the
    // command and the last lines it printed.
    const failing = path.join(work, 'fails-on-lab-2.yml');
    fs.writeFileSync(failing, [
      '- name: Check the servers',
      '  hosts: app_demo',
      '  tasks:',
      '    - name: Disk space',
      '      command: { argv: [df, -h, /] }',
      '    - name: Cache warm',
      '      shell: { cmd: "echo warming; echo cache store unreachable: connection refused >&2; exit 3" }',
      "      when: inventory_hostname == 'lab-2'",
      '',
    ].join('\n'));
    const bad = await inTerminal(['node', FLIGHT_PLAY_BIN, failing, ...D], { width: 140, height: 45, socket: `flight-view-bad-${RUN}` });
    try {
      const end = await bad.exited();
      const text = end.lines.join('\n');
      assert.equal(end.code, 2, text);
      assert.match(text, /✖ lab-2 .*failed at Cache warm/, `the failed host's row stays\n${text}`);
      assert.match(text, /^lab-2: failed at \[Cache warm\]$/m, text);
      assert.match(text, /^ {4}\$ .*cache store unreachable/m, `the command, as data\n${text}`);
      assert.match(text, /^ {4}cache store unreachable: connection refused$/m, `what it printed\n${text}`);
    } finally {
      await bad.close();
    }
  });

  await t.test('the scheduler: the cron entry exists on the worker and runs every minute', { skip: !cronBaseline && 'needs a release' }, async () => {
    const w = server(WORKER);
    const entry = await onHost(w, 'stat -c "%a %U" /etc/cron.d/flight-demo-scheduler; cat /etc/cron.d/flight-demo-scheduler');
    assert.match(entry, /^644 root\n/, 'cron reads only root-owned, not group-writable files');
    assert.match(entry, /^\* \* \* \* \* demo cd \/home\/demo\/current && \/usr\/bin\/php8\.2 artisan schedule:run\b/m);
    for (const name of WEB) assert.equal((await sshRun(server(name), 'test -e /etc/cron.d/flight-demo-scheduler')).code, 1, `${name} has no scheduler`);
    // cron fires at the top of each minute; the baseline was taken right after the first release.
    const waited = Date.now() - cronBaseline!.at;
    let log = '';
    // A run that cron started just before the baseline, from a release of an earlier use of the
    // lab, may write its line after it: only a line from a release this test made counts.
    const ours = new RegExp(`schedule:run release=\\d{8}T\\d{6}Z-(${shaA.slice(0, 12)}|${shaB.slice(0, 12)}) host=lab-3 user=demo$`);
    const fresh = await waitFor(async () => {
      log = await onHost(w, 'cat /home/demo/shared/storage/logs/schedule.log 2>/dev/null');
      const lines = log.split('\n').filter(Boolean).slice(cronBaseline!.lines).filter((l) => ours.test(l));
      return lines.length ? lines : undefined;
    }, { timeoutMs: Math.max(0, 75_000 - waited), intervalMs: 2000 });
    assert.ok(fresh, `schedule.log got no line from cron as demo on lab-3 in a release this test made, within 75 s of the release:\n${log.split('\n').slice(-5).join('\n')}`);
    t.diagnostic(`the first schedule:run line came ${((Date.now() - cronBaseline!.at) / 1000).toFixed(0)} s after the baseline`);
  });

  t.diagnostic(`the default-lab workflows took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
});

/**
 * Check mode on servers that were never provisioned: every task that depends on what an earlier
 * task would have done (packages, the app user's group, the app's folders) must report the change
 * it would make rather than fail, and nothing may change on any server.
 */
test('check mode on a fresh lab changes nothing on any server', { skip, timeout: 15 * 60_000 }, async (t) => {
  const { repo, lab } = await privateLab(t, { name: 'fresh', first: '127.0.0.20', servers: 3, app: 'laravel' });
  const D = ['--defs', lab.defs.dir];
  assert.deepEqual(lab.servers.map((s) => s.address), ['127.0.0.20', '127.0.0.21', '127.0.0.22']);
  const names = lab.servers.map((s) => s.name);
  const before = await snapshot(lab.servers, FRESH_STATE);
  assert.ok(!before['lab-1']!.some((l) => l.startsWith('/etc/nginx ')), 'the lab is fresh: no nginx');

  // Each with a task that must report the change it would make, and on which servers.
  const verbs: Array<[string, string[], string, string[]]> = [
    ['provision', ['provision', 'lab'], 'nginx', ['lab-1', 'lab-2']],
    ['app:configure', ['app:configure', 'demo'], 'PHP-FPM pool (runs as the app user, on its own socket)', ['lab-1', 'lab-2']],
    ['app:release', ['app:release', 'demo', repo.shas[0]!], 'Upload and extract the release', names],
  ];
  for (const [verb, args, task, on] of verbs) {
    await t.test(`${verb} --check`, async () => {
      const r = await flight([...args, ...D, '--check']);
      assert.ok(r.recap, describeRun(r));
      assert.deepEqual(Object.keys(recapHosts(r)).sort(), names, 'every server was looked at');
      assert.deepEqual(hostResults(r, { status: 'changed', task }).map((e) => e.host).sort(), on, `'${task}' reports what it would do\n${describeRun(r)}`);
      assert.deepEqual(failures(r), [], 'every task can be checked on a fresh server');
      assert.equal(r.code, 0, describeRun(r));
      assert.deepEqual(await snapshot(lab.servers, FRESH_STATE), before, `${verb} --check changed nothing on any server`);
    });
  }
});
