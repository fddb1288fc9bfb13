/**
 * What the terminal view shows of a play, as data: one row per host (how many of the play's tasks
 * it has done, the task it is on, how long it has taken) and the play's counts. Pure: the live
 * reporter (live.ts) feeds it the run's events and draws the lines it formats, and tests read
 * those lines as a person would.
 */
import { toShell } from '../command.js';
import type { HostStats, RunEvent } from '../runner/events.js';
import { ms } from './format.js';

type Event<K extends RunEvent['event']> = Extract<RunEvent, { event: K }>;

export type RowState = 'waiting' | 'running' | 'done' | 'failed' | 'unreachable';

export interface HostRow {
  host: string;
  state: RowState;
  /** Tasks this host has finished in the play, whatever their outcome. */
  done: number;
  changed: number;
  skipped: number;
  /** The task it is on now. */
  current?: string;
  /** When it started its first task, and when it finished the play (Date.now()). */
  started?: number;
  ended?: number;
  /** Its failure (failed or unreachable): the task and what it said; for a command, what ran and printed. */
  failure?: { task: string; msg: string; cmd?: readonly string[]; output?: string };
}

export interface PlayView {
  play: string;
  /** The play's tasks as written (blocks counted by their tasks): the progress bar's end. */
  total: number;
  started: number;
  ended?: number;
  rows: Map<string, HostRow>;
  /** Tasks that changed something, with the hosts where they did (shown with -v). */
  changedTasks: Map<string, string[]>;
}

export function startPlay(e: Event<'play_start'>, now: number): PlayView {
  return {
    play: e.play, total: e.tasks, started: now,
    rows: new Map(e.hosts.map((host) => [host, { host, state: 'waiting', done: 0, changed: 0, skipped: 0 }])),
    changedTasks: new Map(),
  };
}

export function taskStarted(v: PlayView, e: Event<'task_start'>, now: number): void {
  for (const host of e.hosts) {
    const row = v.rows.get(host);
    if (!row || row.state === 'failed' || row.state === 'unreachable') continue;
    row.state = 'running';
    row.current = e.task;
    row.started ??= now;
  }
}

export function hostResult(v: PlayView, e: Event<'host_result'>, now: number): void {
  const row = v.rows.get(e.host);
  // Loop items report one by one at -v; the task's own result follows them.
  if (!row || e.item !== undefined) return;
  row.done++;
  row.current = undefined;
  if (e.status === 'changed') {
    row.changed++;
    v.changedTasks.set(e.task, [...(v.changedTasks.get(e.task) ?? []), e.host]);
  }
  if (e.status === 'skipped') row.skipped++;
  if ((e.status === 'failed' && !e.ignored) || e.status === 'unreachable') {
    row.state = e.status;
    row.failure = { task: e.task, msg: e.msg ?? e.status, cmd: e.cmd, output: e.output };
    row.ended = now;
  }
}

export function endPlay(v: PlayView, now: number): void {
  v.ended = now;
  for (const row of v.rows.values()) {
    if (row.state === 'failed' || row.state === 'unreachable') continue;
    row.state = 'done';
    row.current = undefined;
    row.ended ??= now;
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The play's line: its name and counts, e.g. "Release: 3 hosts, 14/22 tasks, 5 changed, 4.1s". */
export function playLine(v: PlayView, now: number): string {
  const rows = [...v.rows.values()];
  const done = Math.min(v.total, Math.max(0, ...rows.map((r) => r.done)));
  const changed = rows.reduce((a, r) => a + r.changed, 0);
  const skipped = rows.reduce((a, r) => a + r.skipped, 0);
  const failed = rows.filter((r) => r.state === 'failed' || r.state === 'unreachable').length;
  const parts = [plural(rows.length, 'host'), `${done}/${v.total} tasks`];
  if (changed) parts.push(`${changed} changed`);
  if (skipped) parts.push(`${skipped} skipped`);
  if (failed) parts.push(`${failed} failed`);
  parts.push(ms((v.ended ?? now) - v.started));
  return `${v.play}: ${parts.join(', ')}`;
}

/** A bar of `width` cells, `done` of `total` full. */
export function bar(done: number, total: number, width: number): string {
  const full = total > 0 ? Math.min(width, Math.round((done / total) * width)) : width;
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/** Cut `s` to `width` characters, an ellipsis marking the cut. */
export function fit(s: string, width: number): string {
  const chars = [...s];
  if (chars.length <= width) return s;
  return width <= 1 ? chars.slice(0, width).join('') : `${chars.slice(0, width - 1).join('')}…`;
}

/**
 * One host's row, at most `width` characters: name (padded to `nameWidth`), bar, tasks done,
 * elapsed, then the current task, or what it failed with. Never wraps: the end is cut.
 */
export function hostLine(row: HostRow, total: number, now: number, o: { width: number; nameWidth: number }): string {
  const name = fit(row.host, o.nameWidth).padEnd(o.nameWidth);
  const elapsed = row.started === undefined ? '' : ms((row.ended ?? now) - row.started);
  const done = `${Math.min(row.done, total)}/${total}`.padStart(2 * String(total).length + 1);
  const tail = row.failure ? `${row.state} at ${row.failure.task}` : row.current ?? (row.state === 'done' ? 'done' : row.state === 'waiting' ? 'waiting' : '');
  return fit(`${name}  ${bar(row.done, total, 12)} ${done}  ${elapsed.padStart(6)}  ${tail}`.trimEnd(), o.width);
}

/**
 * The failures under the view: each failed host, the task, and what it said; for a command, the
 * command as data (quoted as -vv prints it) and the last `lines` lines it printed. Hosts that
 * failed alike share one entry.
 */
export function failureLines(v: PlayView, lines = 8): string[] {
  const byWhat = new Map<string, { row: HostRow; hosts: string[] }>();
  for (const row of v.rows.values()) {
    if (!row.failure) continue;
    const f = row.failure;
    const key = JSON.stringify([row.state, f.task, f.output === undefined ? f.msg : f.output, f.cmd ?? null]);
    const seen = byWhat.get(key);
    if (seen) seen.hosts.push(row.host);
    else byWhat.set(key, { row, hosts: [row.host] });
  }
  const out: string[] = [];
  for (const { row, hosts } of byWhat.values()) {
    const f = row.failure!;
    out.push(`${hosts.join(', ')}: ${row.state} at [${f.task}]`);
    if (f.cmd) out.push(`    $ ${toShell({ argv: f.cmd })}`);
    const said = (f.output ?? f.msg).split('\n').filter((l) => l.trim());
    out.push(...said.slice(-lines).map((l) => `    ${l}`));
  }
  return out;
}

/** With -v: one line per task that changed something, and where. */
export function changedLines(v: PlayView): string[] {
  const all = v.rows.size;
  return [...v.changedTasks].map(([task, hosts]) => `  changed: ${task} (${hosts.length === all ? 'every host' : hosts.join(', ')})`);
}

/**
 * The recap as a table: per host its counts and the time it spent in plays, then the total; no
 * line longer than `width` (a narrow terminal drops the columns from the right).
 */
export function recapTable(hosts: Record<string, HostStats>, o: { ms: number; connections: number; times: Map<string, number>; width: number }): string[] {
  const names = Object.keys(hosts);
  const nameWidth = Math.min(24, Math.max(4, ...names.map((n) => n.length)));
  const head = ['host'.padEnd(nameWidth), '    ok', 'changed', 'failed', 'skipped', 'unreachable', '   time'];
  const rows = names.map((n) => {
    const s = hosts[n]!;
    const cells = [fit(n, nameWidth).padEnd(nameWidth), String(s.ok).padStart(6), String(s.changed).padStart(7), String(s.failed).padStart(6),
      String(s.skipped).padStart(7), String(s.unreachable).padStart(11), ms(o.times.get(n) ?? 0).padStart(7)];
    return cells;
  });
  const line = (cells: string[]) => fit(`  ${cells.join('  ')}`.trimEnd(), o.width);
  return [fit(`RECAP: ${ms(o.ms)} in all, ${o.connections} ssh connection${o.connections === 1 ? '' : 's'}`, o.width), line(head), ...rows.map(line)];
}
