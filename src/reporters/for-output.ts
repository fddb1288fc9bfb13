/** The reporter for an output mode: listr2 on a terminal, plain lines in CI or a pipe, JSON lines with --json. */
import { JsonReporter } from './json.js';
import { ListrReporter } from './listr.js';
import { PlainReporter } from './plain.js';
import type { Reporter } from './types.js';

export type OutputMode = 'listr' | 'plain' | 'json';

export function reporterFor(output: OutputMode): Reporter {
  return output === 'json' ? new JsonReporter() : output === 'listr' ? new ListrReporter() : new PlainReporter();
}
