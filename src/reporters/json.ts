/** One JSON object per line on stdout, for tools. The last line is the recap. */
import type { RunEvent } from '../runner/events.js';
import type { Reporter } from './types.js';

export class JsonReporter implements Reporter {
  constructor(private out: (s: string) => void = (s) => process.stdout.write(s + '\n')) {}
  handle(e: RunEvent): void {
    this.out(JSON.stringify(e));
  }
  async done(): Promise<void> {}
}
