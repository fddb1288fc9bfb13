/**
 * The terminal reporter: for each task, one line per host, updating in parallel as hosts
 * finish. Runs of listr2 are chained so one task's list finishes drawing before the next starts.
 */
import chalk from 'chalk';
import type { RunEvent } from '../runner/events.js';
import { colour, formatDiffs, formatFailures, formatRecap, ms, type Failure } from './format.js';
import type { Reporter } from './types.js';

type HostResult = Extract<RunEvent, { event: 'host_result' }>;

interface Deferred {
  promise: Promise<HostResult>;
  resolve: (r: HostResult) => void;
}

function defer(): Deferred {
  let resolve!: (r: HostResult) => void;
  const promise = new Promise<HostResult>((r) => (resolve = r));
  return { promise, resolve };
}

/** listr2 is the heaviest import; only a terminal run loads it, while the run connects. */
const loadListr = () => import('listr2').then((m) => m.Listr);

export class ListrReporter implements Reporter {
  private readonly Listr = loadListr();
  private chain: Promise<void> = Promise.resolve();
  private waiting = new Map<string, Deferred>();
  private failures: Failure[] = [];
  private print = (s: string) => {
    this.chain = this.chain.then(() => { process.stdout.write(s + '\n'); });
  };

  handle(e: RunEvent): void {
    switch (e.event) {
      case 'playbook_start':
        if (e.check) this.print(chalk.cyan('CHECK MODE: nothing will be changed'));
        break;
      case 'play_start':
        this.print(chalk.bold(`\nPLAY [${e.play}] ${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'}`));
        break;
      case 'task_start': {
        const waiting = new Map(e.hosts.map((h) => [h, defer()]));
        this.waiting = waiting;
        const diffs: string[] = [];
        const makeList = (Listr: Awaited<ReturnType<typeof loadListr>>) => new Listr(
          [{
            title: `${e.handler ? 'HANDLER' : 'TASK'} [${e.task}]`,
            task: (_ctx, t) => t.newListr(
              e.hosts.map((host) => ({
                title: host,
                task: async (_c: unknown, st: { title: string; skip: (m?: string) => void }) => {
                  const r = await waiting.get(host)!.promise;
                  const d = formatDiffs(r.diff);
                  if (d) diffs.push(`${host}:\n${d}`);
                  st.title = `${colour[r.status](host)} ${chalk.dim(ms(r.ms))}${r.msg && r.status !== 'ok' ? ` ${r.msg}` : ''}`;
                  if (r.status === 'skipped') st.skip(st.title);
                  if ((r.status === 'failed' && !r.ignored) || r.status === 'unreachable') throw new Error(st.title);
                },
              })),
              { concurrent: true, exitOnError: false },
            ),
          }],
          { exitOnError: false, rendererOptions: { collapseSubtasks: false, collapseErrors: false, collapseSkips: false } },
        );
        this.chain = this.chain.then(async () => {
          await makeList(await this.Listr).run().catch(() => undefined);
          if (diffs.length) process.stdout.write(diffs.join('\n') + '\n');
        });
        break;
      }
      case 'host_result':
        if (e.item === undefined && ((e.status === 'failed' && !e.ignored) || e.status === 'unreachable')) {
          this.failures.push({ host: e.host, task: e.task, msg: e.msg ?? '' });
        }
        // With a loop at -v, items report too; the host's line settles on its final result.
        if (e.item === undefined) this.waiting.get(e.host)?.resolve(e);
        break;
      case 'log':
        this.print(chalk.dim(`    [${e.host}] ${e.line}`));
        break;
      case 'warning':
        this.print(chalk.yellow(`WARNING: ${e.msg}`));
        break;
      case 'recap':
        this.print('\n' + formatRecap(e.hosts, e.ms, e.connections));
        if (this.failures.length) this.print(formatFailures(this.failures));
        break;
    }
  }

  done(): Promise<void> {
    return this.chain;
  }
}
