/**
 * The reporter for an output mode: the live view on a terminal, plain lines in CI or a pipe,
 * JSON lines with --json. At -vv (every command and its output) a terminal gets plain lines too:
 * a log does not fit in a view that redraws in place.
 */
import { JsonReporter } from './json.js';
import { LiveReporter } from './live.js';
import { PlainReporter } from './plain.js';
import type { Reporter } from './types.js';

export type OutputMode = 'listr' | 'plain' | 'json';

export function reporterFor(output: OutputMode, verbosity = 0): Reporter {
  if (output === 'json') return new JsonReporter();
  return output === 'listr' && verbosity < 2 ? new LiveReporter({ verbosity }) : new PlainReporter();
}
