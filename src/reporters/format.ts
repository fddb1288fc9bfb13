/** Formatting shared by the human reporters, so plain and listr2 output say the same things. */
import chalk from 'chalk';
import type { FileDiff } from '../module-kit/contract.js';
import type { HostStats, HostStatus } from '../runner/events.js';
import { unifiedDiff } from '../util/diff.js';

export const colour: Record<HostStatus, (s: string) => string> = {
  ok: chalk.green,
  changed: chalk.yellow,
  failed: chalk.red,
  skipped: chalk.cyan,
  unreachable: chalk.magenta,
};

export function ms(n: number): string {
  return n < 1000 ? `${n}ms` : `${(n / 1000).toFixed(2)}s`;
}

export function formatDiffs(diffs: FileDiff[] | undefined): string {
  if (!diffs?.length) return '';
  return diffs
    .map((d) => unifiedDiff(d.before, d.after, d.path)
      .split('\n')
      .map((l) => (l.startsWith('+') && !l.startsWith('+++') ? chalk.green(l) : l.startsWith('-') && !l.startsWith('---') ? chalk.red(l) : l))
      .join('\n'))
    .join('\n');
}

export function formatRecap(hosts: Record<string, HostStats>, totalMs: number, connections: number): string {
  const names = Object.keys(hosts);
  const width = Math.max(4, ...names.map((n) => n.length));
  const lines = [chalk.bold(`RECAP (${ms(totalMs)}, ${connections} ssh connection${connections === 1 ? '' : 's'})`)];
  for (const n of names) {
    const s = hosts[n]!;
    const bad = s.failed > 0 || s.unreachable > 0;
    lines.push(
      `  ${(bad ? chalk.red : s.changed ? chalk.yellow : chalk.green)(n.padEnd(width))}  ` +
        `ok=${s.ok}  ${s.changed ? chalk.yellow(`changed=${s.changed}`) : 'changed=0'}  ` +
        `${s.failed ? chalk.red(`failed=${s.failed}`) : 'failed=0'}  skipped=${s.skipped}  ` +
        `${s.unreachable ? chalk.magenta(`unreachable=${s.unreachable}`) : 'unreachable=0'}` +
        (s.rescued ? `  rescued=${s.rescued}` : '') + (s.ignored ? `  ignored=${s.ignored}` : ''),
    );
  }
  return lines.join('\n');
}

export interface Failure {
  host: string;
  task: string;
  msg: string;
}

/**
 * The failures of a run, repeated after the recap so the reason is the last thing on screen.
 * Hosts that failed with the same message (a release stopped everywhere) share one line.
 */
export function formatFailures(failures: Failure[]): string {
  if (!failures.length) return '';
  const byMsg = new Map<string, Failure[]>();
  for (const f of failures) {
    const key = `${f.task}\0${f.msg}`;
    byMsg.set(key, [...(byMsg.get(key) ?? []), f]);
  }
  const lines = [...byMsg.values()].map((fs) => `  ${chalk.red(fs.map((f) => f.host).join(', '))}: [${fs[0]!.task}] ${fs[0]!.msg}`);
  return [chalk.red.bold('FAILED'), ...lines].join('\n');
}
