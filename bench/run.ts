/**
 * `npm run bench`: Flight against Ansible and Capistrano on the same lab servers, in one run.
 * See bench/README.md for the method. Options:
 *
 *   --runs N          timed runs per tool and point (default 3)
 *   --ansible-runs N  runs per point where Ansible is the peer (default: --runs); the Flight-only
 *                     fan-out curve and the release keep --runs
 *   --large-runs N    the same for the 25- and 50-server no-change points (default 2: Ansible
 *                     takes minutes per run there on 2 cores)
 *   --only LIST       some of: start,no-change,change,release,laravel-release,many-apps,fan-out
 *                     (no-change and fan-out share a lab, laravel-release and many-apps another)
 *   --quick           a short trial: fewer sizes and runs
 *   --keep            leave the bench labs running afterwards
 *   --profile N,M     server counts for the Flight profile (default 10,50)
 *   --merge A,B       no runs: combine the latest-details.json of separate runs into bench/results
 *   --budget MIN      soft limit for the whole run (default 30): the 25- and 50-server Ansible
 *                     points, which come last, are skipped (and said so) when the time Ansible
 *                     took per server so far says they would not fit
 *
 * A full run writes bench/results/ (latest.json, latest.md, latest-details.json, fan-out.svg) and
 * the table in bench/README.md; a --quick or --only run writes under FLIGHT_BENCH_DIR/results.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { labDown } from '../src/lab/index.js';
import { BENCH_DIR, type BenchLab } from './lib/labs.js';
import { describeMachine, machineText, type Machine } from './lib/machine.js';
import { onPathOrThrow } from './lib/prereq.js';
import { profileRun, profileText, type Profile } from './lib/profile.js';
import { sessionCost, sessionCostText, type SessionCost } from './lib/session-cost.js';
import { killRunning, ROOT, stageFlight } from './lib/proc.js';
import {
  checkTargets, extrasOf, fanOutSvg, markdownTable, targetsMarkdown, targetsText, textTable, toRow, SCENARIOS, type Measurement,
} from './lib/report.js';
import { laravelReleaseRun, releaseRun } from './lib/releases.js';
import { changeRun, fanOutCurve, FLIGHT_PLAYBOOK, noChangeLab, noChangePoint } from './lib/scenarios.js';
import { startRun } from './lib/start.js';

const ALL = ['start', 'no-change', 'change', 'release', 'laravel-release', 'many-apps', 'fan-out'] as const;
type Part = (typeof ALL)[number];

const t0 = Date.now();
function log(line: string): void {
  const secs = Math.round((Date.now() - t0) / 1000);
  const stamp = `${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`;
  process.stdout.write(`[${stamp}] ${line}\n`);
}

function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      'large-runs': { type: 'string' },
      'ansible-runs': { type: 'string' },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      profile: { type: 'string' },
      budget: { type: 'string' },
      merge: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const runs = values.runs ? Number(values.runs) : quick ? 2 : 3;
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, not ${values.runs}`);
  const ansibleRuns = values['ansible-runs'] ? Number(values['ansible-runs']) : runs;
  if (!Number.isInteger(ansibleRuns) || ansibleRuns < 1) throw new Error(`--ansible-runs must be a positive whole number, not ${values['ansible-runs']}`);
  const largeRuns = values['large-runs'] ? Number(values['large-runs']) : Math.min(ansibleRuns, 2);
  if (!Number.isInteger(largeRuns) || largeRuns < 1) throw new Error(`--large-runs must be a positive whole number, not ${values['large-runs']}`);
  const only = (values.only?.split(',').map((p) => p.trim()).filter(Boolean) ?? [...ALL]) as Part[];
  const bad = only.filter((p) => !(ALL as readonly string[]).includes(p));
  if (bad.length) throw new Error(`--only: unknown part ${bad.join(', ')} (parts: ${ALL.join(', ')})`);
  const profile = (values.profile ?? (quick ? '5' : '10,50')).split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const budget = values.budget ? Number(values.budget) : 30;
  if (!(budget > 0)) throw new Error(`--budget must be a number of minutes, not ${values.budget}`);
  return {
    merge: values.merge?.split(',').filter(Boolean),
    budgetMs: budget * 60_000,
    runs,
    ansibleRuns,
    largeRuns,
    only: new Set(only),
    quick,
    keep: values.keep ?? false,
    profile,
    sizes: quick ? [1, 5] : [1, 5, 10, 25, 50],
    fanSizes: quick ? [1, 3, 5] : [1, 2, 5, 10, 15, 20, 30, 40, 50],
    changeSizes: quick ? [3] : [5, 25],
    laravelSizes: quick ? [3] : [3, 10],
    partial: quick || only.length < ALL.length,
  };
}

async function main(): Promise<number> {
  const o = options();
  if (o.merge) {
    merge(o.merge);
    return 0;
  }
  if (process.getuid?.() !== 0) throw new Error('the benchmark runs lab servers in namespaces: run it as root');
  onPathOrThrow(['ansible-playbook', 'cap', 'ssh', 'git', 'tar']);
  // One copy per bench process, removed at the end: two bench runs must not share one.
  const stage = path.join(BENCH_DIR, `flight-${process.pid}`);
  stageFlight(stage);
  process.on('exit', () => fs.rmSync(stage, { recursive: true, force: true }));
  // Interrupted: the bench labs go down with it (unless --keep), the results so far stay.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping`);
      killRunning();
      const downs = o.keep ? [] : ['fanout', 'change', 'release', 'laravel', 'image'].map((name) => labDown({ dir: path.join(BENCH_DIR, name), purge: true }).catch(() => {}));
      void Promise.all(downs).finally(() => process.exit(130));
    });
  }
  const machine: Machine = await describeMachine();
  log(`Flight benchmark on ${os.hostname()}: ${machineText(machine).split('\n').join('; ')}`);
  log(`runs per point: ${o.runs} (with Ansible: ${o.ansibleRuns}, at 25+ servers: ${o.largeRuns}); parts: ${[...o.only].join(', ')}; budget ${Math.round(o.budgetMs / 60_000)} min`);

  const measurements: Measurement[] = [];
  const details: Record<string, unknown> = {};
  const profiles: Profile[] = [];
  const notes: string[] = [];
  let session: SessionCost | undefined;

  // Order: what the targets need most first, and the slowest part (Ansible on 25 and 50 servers)
  // last, so a run cut short still has everything else. Results are written after each step.
  const wantNoChange = o.only.has('no-change');
  const small = wantNoChange ? o.sizes.filter((n) => n < 25) : [];
  const large = wantNoChange ? o.sizes.filter((n) => n >= 25) : [];
  const fanSizes = o.only.has('fan-out') ? o.fanSizes : [];
  const max = Math.max(0, ...small, ...large, ...fanSizes);
  let lab: BenchLab | undefined;
  try {
    if (max > 0) {
      const ready = await noChangeLab(max, log);
      lab = ready.lab;
      details.readied = ready.readied;
      for (const n of small) {
        measurements.push(await noChangePoint(lab, n, o.ansibleRuns, log));
        writeResults(false);
      }
      if (fanSizes.length) {
        measurements.push(...(await fanOutCurve(lab, fanSizes, o.runs, log)));
        writeResults(false);
      }
      for (const n of o.profile.filter((p) => p <= max)) {
        const p = await profileRun(lab.flightDefs(n), FLIGHT_PLAYBOOK, n, lab.servers.slice(0, n), { key: lab.paths.key, knownHosts: lab.paths.knownHosts });
        profiles.push(p);
        log(profileText(p).trimEnd());
      }
      if (o.profile.length) {
        session = await sessionCost(lab);
        log(sessionCostText(session).trimEnd());
        writeResults(false);
      }
    }
    // A part that fails is reported and the others still run: one broken peer set-up must not
    // throw away an hour of measurements.
    const part = async (name: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        const note = `${name} failed: ${err instanceof Error ? err.message : String(err)}`;
        log(note);
        notes.push(note.split('\n').slice(0, 8).join(' / '));
      }
      writeResults(false);
    };
    if (o.only.has('start')) {
      await part('start', async () => {
        measurements.push(await startRun({ runs: 20, log }));
      });
    }
    if (o.only.has('release')) {
      await part('release', async () => {
        measurements.push(...(await releaseRun({ runs: o.runs, log, keep: o.keep })));
      });
    }
    if (o.only.has('laravel-release') || o.only.has('many-apps')) {
      await part('laravel-release', async () => {
        const sizes = o.only.has('laravel-release') ? o.laravelSizes : [];
        const r = await laravelReleaseRun({ sizes, runs: o.runs, many: o.only.has('many-apps'), log, keep: o.keep });
        measurements.push(...r.measurements);
        notes.push(...r.notes);
        details.releaseTimings = r.timings;
      });
    }
    if (o.only.has('change')) {
      await part('change', async () => {
        for (const servers of o.changeSizes) measurements.push(await changeRun({ servers, runs: servers >= 25 ? o.largeRuns : o.ansibleRuns, log, keep: o.keep }));
      });
    }
    for (const n of large) {
      // Ansible's time grows with the servers (a process per task per host, on 2 cores): project
      // this point from the largest one measured, and skip it if it would break the budget.
      const known = measurements.filter((m) => m.scenario === 'no-change' && m.peerRuns?.length).sort((a, b) => b.servers - a.servers)[0];
      const perServer = known ? Math.max(...known.peerRuns!) / known.servers : 0;
      const projectedMs = perServer * n * o.largeRuns * 1000 * 1.1;
      const leftMs = o.budgetMs - (Date.now() - t0);
      if (projectedMs > leftMs) {
        const note = `no-change at ${n} servers skipped: Ansible took ${perServer.toFixed(1)} s per server at ${known!.servers} servers, so ${o.largeRuns} runs would take about ${Math.round(projectedMs / 60_000)} min, and ${Math.max(0, Math.round(leftMs / 60_000))} min of the ${Math.round(o.budgetMs / 60_000)}-minute budget are left (--budget)`;
        log(note);
        notes.push(note);
        continue;
      }
      measurements.push(await noChangePoint(lab!, n, o.largeRuns, log));
      writeResults(false);
    }
  } finally {
    if (lab && !o.keep) await lab.down(true);
  }
  writeResults(true);
  return 0;

  /** Called after each part too, so a run cut short still leaves what it measured. */
  function writeResults(final: boolean): void {
    machine.loadEnd = Math.round(os.loadavg()[0]! * 100) / 100;
    const outDir = o.partial ? path.join(BENCH_DIR, 'results') : path.join(ROOT, 'bench', 'results');
    render(outDir, { machine, measurements, profiles, session, notes, ...details }, { final, readme: !o.partial });
  }
}

/** Everything a run leaves, as latest-details.json keeps it. */
interface Details {
  date?: string;
  machine: Machine;
  measurements: Measurement[];
  profiles: Profile[];
  session?: SessionCost;
  notes: string[];
  [more: string]: unknown;
}

/** Write latest.json, latest.md, latest-details.json and fan-out.svg to `outDir` (and the README's table). */
function render(outDir: string, d: Details, o: { final: boolean; readme: boolean }): void {
  const { machine, measurements, profiles, session, notes } = d;
  const timings = (d.releaseTimings as string[] | undefined) ?? [];
  measurements.sort((a, b) => SCENARIOS.indexOf(a.scenario) - SCENARIOS.indexOf(b.scenario) || a.servers - b.servers || (a.peer ?? '').localeCompare(b.peer ?? ''));
  const rows = measurements.map(toRow);
  const extras = measurements.map(extrasOf);
  const checks = checkTargets(rows);
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');

  process.stdout.write(`\n${textTable(rows, extras)}\n${targetsText(checks)}`);
  fs.mkdirSync(outDir, { recursive: true });
  const md = [
    `# Flight benchmark: ${date}`,
    '',
    '```',
    machineText(machine),
    '```',
    '',
    'Seconds are wall time of the whole command (median, then min-max over the runs); ratio is the',
    "peer's median over Flight's (above 1: Flight is faster). SSH logins are counted in the servers'",
    'sshd logs during one run (median), for every tool alike. CPU is the tool\'s processes plus what',
    'sshd ran for it on the servers, in CPU seconds (median).',
    '',
    markdownTable(rows, extras),
    targetsMarkdown(checks),
    ...(notes.length ? [...notes.map((n) => `- ${n}`), ''] : []),
    ...(profiles.length || timings.length ? ['## Where Flight spends its time', '', '```', ...profiles.map((p) => profileText(p)), ...(session ? [sessionCostText(session)] : []), ...timings, '```', ''] : []),
    ...(rows.some((r) => r.scenario === 'fan-out') ? ['![fan-out](fan-out.svg)', ''] : []),
  ].join('\n');
  fs.writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(rows, null, 2)}\n`);
  fs.writeFileSync(path.join(outDir, 'latest.md'), md);
  fs.writeFileSync(path.join(outDir, 'latest-details.json'), `${JSON.stringify({ ...d, date }, null, 2)}\n`);
  const fan = rows.filter((r) => r.scenario === 'fan-out');
  if (fan.length) {
    const runs = Math.max(...fan.map((r) => r.runs));
    fs.writeFileSync(path.join(outDir, 'fan-out.svg'), fanOutSvg(rows, `${date}, ${machine.cpus} CPUs, load average ${machine.loadStart}-${machine.loadEnd}; median and min-max of ${runs} runs`));
  }
  if (o.readme) updateReadme(date, machine, markdownTable(rows, extras), targetsMarkdown(checks) + notes.map((n) => `- ${n}\n`).join(''), o.final);
  log(`${o.final ? 'results' : 'results so far'} in ${outDir}`);
}

/**
 * `--merge A.json,B.json`: combine the latest-details.json of runs made apart (say, parts run at
 * the same time on separate lab addresses) into bench/results. A later file's measurement of the
 * same scenario, size and peer replaces an earlier one's.
 */
function merge(files: string[]): void {
  const all = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as Details);
  const key = (m: Measurement) => `${m.scenario}/${m.servers}/${m.peer ?? ''}`;
  const byKey = new Map<string, Measurement>();
  for (const d of all) for (const m of d.measurements) byKey.set(key(m), m);
  const withProfiles = [...all].reverse().find((d) => d.profiles?.length);
  // Every start and end reading of the merged runs: the lowest and the highest stand for them all.
  const loads = all.flatMap((d) => [d.machine.loadStart, d.machine.loadEnd ?? d.machine.loadStart]);
  const machine = { ...all[0]!.machine, loadStart: Math.min(...loads), loadEnd: Math.max(...loads) };
  const notes = [...new Set(all.flatMap((d) => d.notes ?? [])), `merged from ${all.length} runs (a later run's point replaces an earlier one's): ${all.map((d) => `${d.date ?? '?'} (${[...new Set(d.measurements.map((m) => m.scenario))].join(', ')})`).join('; ')}`];
  render(path.join(ROOT, 'bench', 'results'), {
    machine, measurements: [...byKey.values()], profiles: withProfiles?.profiles ?? [], session: withProfiles?.session, notes,
    releaseTimings: [...all].reverse().find((d) => d.releaseTimings)?.releaseTimings,
    merged: all.map((d) => ({ date: d.date, machine: d.machine, notes: d.notes })),
  }, { final: true, readme: true });
}

/** Replace the table between the markers in bench/README.md, so the page shows the latest run. */
function updateReadme(date: string, machine: Machine, table: string, targets: string, complete: boolean): void {
  const file = path.join(ROOT, 'bench', 'README.md');
  if (!fs.existsSync(file)) return;
  const text = fs.readFileSync(file, 'utf8');
  const start = '<!-- results:start -->';
  const end = '<!-- results:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  const state = complete ? '' : ' (incomplete: the run was cut short, or is still going)';
  const block = [start, '', `Latest run${state}: ${date}, on ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB; 1-minute load average read at the start and end: ${machine.loadStart} to ${machine.loadEnd}.`, '', table, targets, end].join('\n');
  fs.writeFileSync(file, text.slice(0, a) + block + text.slice(b + end.length));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
