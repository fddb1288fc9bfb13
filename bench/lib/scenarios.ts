/**
 * The no-change, change and fan-out measurements (releases: releases.ts). In each, the tools take turns run by run (Flight, peer,
 * Flight, peer, ...), so a burst of other work on the machine hits both alike.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { currentBase } from '../../src/lab/base.js';
import { labPaths } from '../../src/lab/index.js';
import { BENCH_CACHE, BENCH_NET, BenchLab, ensureConvergedImage, ensureImage, haveAll, snapshotUpper } from './labs.js';
import { flightCli, ROOT, timed, timedOk } from './proc.js';
import type { Measurement } from './report.js';
import { cpuOf, cpuText, measurement, push, secondsText, type Log } from './measurement.js';
import { ANSIBLE_DIR, runAnsible, runFlightPlay, runFlightRelease, serverCpuSince, type RunOutcome } from './tools.js';

export const FLIGHT_PLAYBOOK = path.join(ROOT, 'bench', 'playbooks', 'flight-20.yml');
export const ANSIBLE_PLAYBOOK = path.join(ANSIBLE_DIR, 'site.yml');

/** Lab instances, apart from the default lab (127.0.0.2-4) and from each other. */
export const LABS = {
  fanout: (servers: number) => ({ name: 'fanout', first: `${BENCH_NET}.100`, servers }),
  change: (servers: number) => ({ name: 'change', first: `${BENCH_NET}.200`, servers }),
};

/** The untimed runs that readied the no-change lab: Flight on every server, Ansible on one. */
export interface Readied {
  flight: number;
  ansible: number;
  servers: number;
}

/**
 * The no-change lab: `max` servers seeded with the converged image, so both tools' state is
 * already in place everywhere (runs on n servers use the first n).
 */
export async function noChangeLab(max: number, log: Log): Promise<{ lab: BenchLab; readied: Readied }> {
  const converged = await ensureConvergedImage(log, [path.join(ROOT, 'bench', 'playbooks'), ANSIBLE_DIR], async (tpl) => {
    await runFlightPlay(tpl, 1, FLIGHT_PLAYBOOK, 'change');
    await runAnsible(tpl, 1, ANSIBLE_PLAYBOOK, 'change');
  });
  const lab = new BenchLab(LABS.fanout(max), log);
  log(`no-change lab: ${max} servers from ${lab.spec.first}, seeded with the converged image`);
  await lab.up({ fresh: true, seed: converged });
  // /run is new at every server start: supervisord (and with it both worker programs) is not running.
  await Promise.all(lab.servers.map((srv) => lab.ssh(srv.name, 'service supervisor start >/dev/null')));
  // Untimed: Flight settles anything it renders differently since the image was built, and
  // Ansible checks on one server that the seeded state is its converged state.
  const fc = await runFlightPlay(lab, max, FLIGHT_PLAYBOOK, 'any');
  const ac = await runAnsible(lab, 1, ANSIBLE_PLAYBOOK, 'no-change');
  log(`lab ready: flight settle run on ${max} servers ${secondsText(fc.seconds)} (${fc.changed} changed), ansible check on 1 server ${secondsText(ac.seconds)}`);
  return { lab, readied: { flight: fc.seconds, ansible: ac.seconds, servers: max } };
}

/** No-change runs on the first n servers, Flight and Ansible in turn. */
export async function noChangePoint(lab: BenchLab, n: number, runs: number, log: Log): Promise<Measurement> {
  const m: Measurement = { scenario: 'no-change', servers: n, peer: 'ansible', flight: [], peerRuns: [], flightConnections: [], peerConnections: [] };
  for (let r = 1; r <= runs; r++) {
    const f = await runFlightPlay(lab, n, FLIGHT_PLAYBOOK, 'no-change');
    const a = await runAnsible(lab, n, ANSIBLE_PLAYBOOK, 'no-change');
    push(m, f, a);
    log(`no-change ${n} servers, run ${r}/${runs}: flight ${secondsText(f.seconds)} (${f.logins} logins, recap says ${f.reported}; CPU ${cpuText(f)}), ansible ${secondsText(a.seconds)} (${a.logins} logins, ${a.sockets} control sockets; CPU ${cpuText(a)})`);
  }
  return m;
}

/** Flight's no-change curve. Sizes inside each round, rounds outside: a slow minute bends no single point. */
export async function fanOutCurve(lab: BenchLab, sizes: number[], rounds: number, log: Log): Promise<Measurement[]> {
  const fanOut = sizes.map((n): Measurement => ({ scenario: 'fan-out', servers: n, flight: [], flightConnections: [] }));
  for (let r = 1; r <= rounds; r++) {
    const line: string[] = [];
    for (const m of fanOut) {
      const f = await runFlightPlay(lab, m.servers, FLIGHT_PLAYBOOK, 'no-change');
      m.flight.push(f.seconds);
      m.flightConnections!.push(f.logins);
      (m.flightCpu ??= []).push(cpuOf(f));
      line.push(`${m.servers}:${f.seconds.toFixed(2)}`);
    }
    log(`fan-out round ${r}/${rounds} (servers:seconds): ${line.join(' ')}`);
  }
  return fanOut;
}

/** First apply on fresh servers: every run gets servers just made from the bench image. */
export async function changeRun(o: { servers: number; runs: number; log: Log; keep: boolean }): Promise<Measurement> {
  const image = await ensureImage(o.log);
  const lab = new BenchLab(LABS.change(o.servers), o.log);
  const m: Measurement = { scenario: 'change', servers: o.servers, peer: 'ansible', flight: [], peerRuns: [], flightConnections: [], peerConnections: [] };
  try {
    for (let r = 1; r <= o.runs; r++) {
      await lab.up({ fresh: true, seed: image });
      const f = await runFlightPlay(lab, o.servers, FLIGHT_PLAYBOOK, 'change');
      await lab.up({ fresh: true, seed: image });
      const a = await runAnsible(lab, o.servers, ANSIBLE_PLAYBOOK, 'change');
      push(m, f, a);
      o.log(`change ${o.servers} fresh servers, run ${r}/${o.runs}: flight ${secondsText(f.seconds)} (${f.logins} logins; CPU ${cpuText(f)}), ansible ${secondsText(a.seconds)} (${a.logins} logins; CPU ${cpuText(a)})`);
    }
  } finally {
    if (!o.keep) await lab.down(true);
  }
  return m;
}
