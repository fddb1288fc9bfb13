/** Shared entry plumbing: turn any error into a message and the exit code its kind maps to. */
import chalk from 'chalk';
import { EXIT_CODES, exitCodeOf, FlightError, messageOf } from '../errors.js';

/** The exit codes of every command, as the help texts and the README give them. */
export const EXIT_CODES_HELP = `Exit codes: ${EXIT_CODES.ok} ok, ${EXIT_CODES.failed} a task failed, ${EXIT_CODES.unreachable} a host unreachable, ${EXIT_CODES.invalid} invalid input (nothing ran), ${EXIT_CODES.internal} an internal error (a bug: please report it).`;

export function runMain(main: () => Promise<number>): void {
  // NO_COLOR (no-color.org) turns colour off unless FORCE_COLOR asks for it; chalk reads only the latter.
  if (process.env.NO_COLOR && !process.env.FORCE_COLOR) chalk.level = 0;
  main().then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      const prefix = err instanceof FlightError && err.kind === 'invalid' ? 'error' : 'failed';
      process.stderr.write(`${chalk.red(`${prefix}:`)} ${messageOf(err)}\n`);
      if (process.env.FLIGHT_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
      process.exitCode = exitCodeOf(err);
    },
  );
}
