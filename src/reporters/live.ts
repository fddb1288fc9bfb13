/**
 * The terminal reporter: a live view per play, drawn by listr2. While a play runs, its line
 * (name and counts) has one row per host under it: a bar of the play's tasks done, the time so
 * far, the task it is on. When the play ends its rows fold away and its line stays with the
 * totals, so a successful release leaves a few lines; a host that failed keeps its row (red,
 * with the task) and its failure is printed in full below the view. The recap follows.
 *
 * The rows are formatted by live-view.ts (pure); this file only feeds it events and hands its
 * lines to listr2, whose renderer redraws them in place (and at the terminal's new width after
 * a resize). With -v, the tasks that changed something are listed after each play.
 */
import chalk from 'chalk';
import type { RunEvent } from '../runner/events.js';
import { colour, formatDiffs } from './format.js';
import { changedLines, endPlay, failureLines, hostLine, hostResult, playLine, recapTable, startPlay, taskStarted, type HostRow, type PlayView } from './live-view.js';
import type { Reporter } from './types.js';

/** listr2 is the heaviest import; only a terminal run loads it, while the run connects. */
const loadListr = () => import('listr2').then((m) => m.Listr);

/** What listr2 hands a task: its title can be changed while it runs. */
interface TitleHolder {
  title: string;
}

interface LivePlay {
  view: PlayView;
  play?: TitleHolder;
  rows: Map<string, TitleHolder>;
  /** Settles each host's listr2 task when the play ends (a failed host's throws). */
  finish: Map<string, () => void>;
  ticker: NodeJS.Timeout;
  /** Diffs and warnings, printed under the view once the play is done. */
  after: string[];
}

export class LiveReporter implements Reporter {
  private readonly Listr = loadListr();
  private chain: Promise<void> = Promise.resolve();
  private current?: LivePlay;
  /** Each host's time in plays so far, for the recap. */
  private readonly times = new Map<string, number>();

  constructor(private readonly o: { verbosity: number } = { verbosity: 0 }) {}

  private print(s: string): void {
    this.chain = this.chain.then(() => { process.stdout.write(s + '\n'); });
  }

  private width(): number {
    // listr2 indents a row by its level and puts a glyph in front.
    return Math.max(20, (process.stdout.columns || 80) - 6);
  }

  private redraw(p: LivePlay): void {
    const now = Date.now();
    const nameWidth = Math.min(24, Math.max(4, ...[...p.view.rows.keys()].map((h) => h.length)));
    if (p.play) p.play.title = playLine(p.view, now);
    for (const [host, holder] of p.rows) {
      const row = p.view.rows.get(host)!;
      holder.title = paint(row, hostLine(row, p.view.total, now, { width: this.width(), nameWidth }));
    }
  }

  handle(e: RunEvent): void {
    const p = this.current;
    switch (e.event) {
      case 'playbook_start':
        if (e.check) this.print(chalk.cyan('CHECK MODE: nothing will be changed'));
        break;
      case 'play_start':
        this.startPlay(e);
        break;
      case 'task_start':
        if (p) {
          taskStarted(p.view, e, Date.now());
          this.redraw(p);
        }
        break;
      case 'host_result':
        if (p) {
          hostResult(p.view, e, Date.now());
          const d = e.item === undefined ? formatDiffs(e.diff) : '';
          if (d) p.after.push(`${e.host} [${e.task}]:\n${d}`);
          this.redraw(p);
        }
        break;
      case 'play_end':
        if (p) this.endPlay(p);
        break;
      case 'log':
        // -vv goes to the plain reporter (for-output.ts); a stray line waits for the view.
        if (p) p.after.push(chalk.dim(`    [${e.host}] ${e.line}`));
        else this.print(chalk.dim(`    [${e.host}] ${e.line}`));
        break;
      case 'warning':
        if (p) p.after.push(chalk.yellow(`WARNING: ${e.msg}`));
        else this.print(chalk.yellow(`WARNING: ${e.msg}`));
        break;
      case 'recap': {
        const lines = recapTable(e.hosts, { ms: e.ms, connections: e.connections, times: this.times, width: (process.stdout.columns || 80) - 1 });
        const bad = (h: string) => e.hosts[h]!.failed > 0 || e.hosts[h]!.unreachable > 0;
        const names = Object.keys(e.hosts);
        this.print(['', chalk.bold(lines[0]!), chalk.dim(lines[1]!), ...lines.slice(2).map((l, i) => (bad(names[i]!) ? chalk.red(l) : l))].join('\n'));
        break;
      }
    }
  }

  private startPlay(e: Extract<RunEvent, { event: 'play_start' }>): void {
    const p: LivePlay = {
      view: startPlay(e, Date.now()), rows: new Map(), finish: new Map(), after: [],
      ticker: setInterval(() => this.redraw(p), 500),
    };
    p.ticker.unref();
    this.current = p;
    const settled = new Map(e.hosts.map((h) => [h, new Promise<void>((resolve) => p.finish.set(h, resolve))]));
    const list = (Listr: Awaited<ReturnType<typeof loadListr>>) => new Listr(
      [{
        title: playLine(p.view, Date.now()),
        task: (_ctx, t) => {
          p.play = t;
          return t.newListr(e.hosts.map((host) => ({
            title: host,
            task: async (_c: unknown, st: TitleHolder) => {
              p.rows.set(host, st);
              this.redraw(p);
              await settled.get(host);
              const row = p.view.rows.get(host)!;
              if (row.failure) throw new Error(st.title);
            },
          })), { concurrent: true, exitOnError: false });
        },
      }],
      {
        exitOnError: false,
        rendererOptions: { collapseSubtasks: true, collapseErrors: true, showErrorMessage: false, formatOutput: 'truncate' },
      },
    );
    this.chain = this.chain.then(async () => {
      await list(await this.Listr).run().catch(() => undefined);
    });
  }

  private endPlay(p: LivePlay): void {
    clearInterval(p.ticker);
    endPlay(p.view, Date.now());
    this.redraw(p);
    for (const row of p.view.rows.values()) {
      if (row.started !== undefined) this.times.set(row.host, (this.times.get(row.host) ?? 0) + (row.ended ?? Date.now()) - row.started);
    }
    for (const done of p.finish.values()) done();
    this.current = undefined;
    const failed = failureLines(p.view);
    if (failed.length) this.print([chalk.red.bold('FAILED'), ...failed.map((l) => (l.startsWith('    ') ? l : chalk.red(l)))].join('\n'));
    if (this.o.verbosity >= 1) for (const l of changedLines(p.view)) this.print(chalk.yellow(l));
    for (const l of p.after) this.print(l);
  }

  done(): Promise<void> {
    // A run that stopped inside a play (an error) still ends its view.
    if (this.current) this.endPlay(this.current);
    return this.chain;
  }
}

/** A row's colour: red once it failed, as its state says otherwise. */
function paint(row: HostRow, line: string): string {
  if (row.state === 'failed') return colour.failed(line);
  if (row.state === 'unreachable') return colour.unreachable(line);
  if (row.state === 'done') return row.changed ? colour.changed(line) : colour.ok(line);
  return line;
}
