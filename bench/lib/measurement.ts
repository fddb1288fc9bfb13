/** Filling a Measurement run by run, and the one-line texts the progress log prints for a run. */
import type { Measurement, Peer, Scenario } from './report.js';
import type { RunOutcome } from './tools.js';

export type Log = (line: string) => void;

export const measurement = (scenario: Scenario, servers: number, peer: Peer): Measurement =>
  ({ scenario, servers, peer, flight: [], peerRuns: [], flightConnections: [], peerConnections: [] });

/** CPU seconds of a run: the tool's processes and what sshd ran for it on the servers. */
export const cpuOf = (r: RunOutcome) => Math.round(((r.clientCpu ?? 0) + (r.serverCpu ?? 0)) * 100) / 100;

/** One run of Flight and one of the peer, taken in turn. */
export function push(m: Measurement, f: RunOutcome, p: RunOutcome): void {
  m.flight.push(f.seconds);
  m.peerRuns!.push(p.seconds);
  m.flightConnections!.push(f.logins);
  m.peerConnections!.push(p.logins);
  (m.flightCpu ??= []).push(cpuOf(f));
  (m.peerCpu ??= []).push(cpuOf(p));
}

/** "1.23 s". */
export const secondsText = (x: number) => `${x.toFixed(2)} s`;
/** "1.20 s client + 0.80 s servers". */
export const cpuText = (r: RunOutcome) => `${(r.clientCpu ?? 0).toFixed(2)} s client + ${(r.serverCpu ?? 0).toFixed(2)} s servers`;
