/**
 * One error type for everything Flight reports to a user. `kind` decides the exit code;
 * `cause` keeps the underlying error for -vv output without leaking it into the message.
 */
export type ErrorKind = 'invalid' | 'failed' | 'unreachable' | 'internal';

export const EXIT_CODES: Record<ErrorKind | 'ok', number> = {
  ok: 0,
  failed: 2,
  unreachable: 4,
  invalid: 5,
  internal: 1,
};

export class FlightError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'FlightError';
  }
}

/** Bad input: definitions, playbooks, arguments. Raised before anything connects. */
export const invalid = (message: string, cause?: unknown) => new FlightError('invalid', message, { cause });
/** A host could not be reached or dropped mid-run. */
export const unreachable = (message: string, cause?: unknown) => new FlightError('unreachable', message, { cause });
/** A task or step failed on a reachable host. */
export const failed = (message: string, cause?: unknown) => new FlightError('failed', message, { cause });

export function exitCodeOf(err: unknown): number {
  return err instanceof FlightError ? EXIT_CODES[err.kind] : EXIT_CODES.internal;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
