/** One line per event: for CI logs, pipes, and anyone who greps. */
import chalk from 'chalk';
import type { RunEvent } from '../runner/events.js';
import { colour, formatDiffs, formatFailures, formatRecap, ms, type Failure } from './format.js';
import type { Reporter } from './types.js';

export class PlainReporter implements Reporter {
  private failures: Failure[] = [];
  constructor(private out: (s: string) => void = (s) => process.stdout.write(s + '\n')) {}

  handle(e: RunEvent): void {
    switch (e.event) {
      case 'playbook_start':
        if (e.check) this.out(chalk.cyan('CHECK MODE: nothing will be changed'));
        break;
      case 'play_start':
        this.out(chalk.bold(`\nPLAY [${e.play}] ${e.hosts.length} host${e.hosts.length === 1 ? '' : 's'}`));
        break;
      case 'task_start':
        this.out(chalk.bold(`${e.handler ? 'HANDLER' : 'TASK'} [${e.task}]`) + chalk.dim(` ${e.pos}`));
        break;
      case 'host_result': {
        if ((e.status === 'failed' && !e.ignored) || e.status === 'unreachable') this.failures.push({ host: e.host, task: e.task, msg: e.msg ?? '' });
        const item = e.item !== undefined ? ` (item=${typeof e.item === 'object' ? JSON.stringify(e.item) : String(e.item)})` : '';
        const status = e.ignored ? `${e.status} (ignored)` : e.status;
        this.out(`  ${colour[e.status](`${status}: ${e.host}`)}${item} ${chalk.dim(ms(e.ms))}${e.msg && e.status !== 'ok' ? ` ${e.msg}` : ''}`);
        const d = formatDiffs(e.diff);
        if (d) this.out(d.replace(/^/gm, '    '));
        break;
      }
      case 'log':
        this.out(chalk.dim(`    [${e.host}] ${e.line.replace(/\n/g, `\n    [${e.host}] `)}`));
        break;
      case 'warning':
        this.out(chalk.yellow(`WARNING: ${e.msg}`));
        break;
      case 'recap':
        this.out('\n' + formatRecap(e.hosts, e.ms, e.connections));
        if (this.failures.length) this.out(formatFailures(this.failures));
        break;
    }
  }

  async done(): Promise<void> {}
}
