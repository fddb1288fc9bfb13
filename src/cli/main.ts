/** Shared entry plumbing: turn any error into a message and the exit code its kind maps to. */
import chalk from 'chalk';
import { exitCodeOf, FlightError, messageOf } from '../errors.js';

export function runMain(main: () => Promise<number>): void {
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
