/**
 * The start of the CLI as users meet it: `flight --version` through the link npm installs (the
 * bundle, dist/flight.cjs), against `node -e 0`, Node's own start on this machine, in turn.
 */
import { measurement, type Log } from './measurement.js';
import { flightCli, timedOk } from './proc.js';
import type { Measurement } from './report.js';
import { median } from './stats.js';

export async function startRun(o: { runs: number; log: Log }): Promise<Measurement> {
  const m = measurement('start', 1, 'node');
  // Untimed: the first start reads the files from disk; every later one from the page cache.
  await timedOk(['node', flightCli(), '--version']);
  for (let r = 0; r < o.runs; r++) {
    m.flight.push((await timedOk(['node', flightCli(), '--version'])).seconds);
    m.peerRuns!.push((await timedOk(['node', '-e', '0'])).seconds);
  }
  o.log(`start, ${o.runs} runs each: flight --version ${median(m.flight).toFixed(3)} s, node -e 0 ${median(m.peerRuns!).toFixed(3)} s (medians)`);
  return m;
}
