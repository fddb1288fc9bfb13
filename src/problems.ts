/**
 * A problem found in a user's file (definitions, inventory, playbook), with the place it is at.
 * Validation collects every problem before failing, so a user fixes them all in one go instead
 * of one per run.
 */
import { FlightError } from './errors.js';

export interface Problem {
  /** The file as the user should see it, e.g. `apps/myapp.yml` (relative to the folder loaded). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  col: number;
  /** Dotted path of the offending key, e.g. `servers[0].web.max_workers`; '' for the whole file. */
  path: string;
  /** What was expected, e.g. `must be integer >= 1`. */
  message: string;
}

/** `apps/myapp.yml:7:3: servers[0].web.max_workers: must be integer >= 1` */
export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/**
 * Sorts problems by file (in the order given, files not listed last by name), then position.
 * Stable, and duplicates (same place, same message) are dropped: two schema branches may report
 * the same thing.
 */
export function sortProblems(problems: Problem[], fileOrder: string[] = []): Problem[] {
  const rank = (f: string) => {
    const i = fileOrder.indexOf(f);
    return i === -1 ? fileOrder.length : i;
  };
  const seen = new Set<string>();
  return problems
    .filter((p) => {
      const key = formatProblem(p);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => rank(a.file) - rank(b.file) || a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

/**
 * The `invalid` FlightError (exit code 5) raised for a set of problems. The message lists each
 * one on its own line; `problems` keeps them as data for tests and for `--json` output.
 */
export class ProblemsError extends FlightError {
  readonly problems: Problem[];
  constructor(heading: string, problems: Problem[]) {
    const n = problems.length;
    super('invalid', `${heading} (${n} ${n === 1 ? 'error' : 'errors'}):\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
    this.name = 'ProblemsError';
    this.problems = problems;
  }
}
