/**
 * An operation, in pyinfra's sense: read the facts, decide (a pure function), and only when the
 * decision changes something and check mode is off, apply it. Check mode is this function not
 * calling `apply`: a module written as an operation never looks at `ctx.check`, so its dry run
 * reports exactly the change its real run would make.
 */
import type { ModuleContext, ModuleResult } from './contract.js';

export interface Operation<P, F, D extends { error?: string }> {
  /** The facts the decision needs; a ModuleResult instead ends the run with it (nothing to decide). */
  read(ctx: ModuleContext, p: P): Promise<F | { result: ModuleResult }>;
  /** What to do (pure); `error` fails the task, changing nothing. */
  decide(p: P, facts: F): D;
  changed(d: D): boolean;
  /** Carry out a decision that changes something: an error message, or undefined. */
  apply(ctx: ModuleContext, p: P, d: D, facts: F): Promise<string | undefined>;
  /** The task's result once decided (and, outside check mode, applied). */
  result(ctx: ModuleContext, p: P, d: D, facts: F, changed: boolean): ModuleResult;
  /**
   * The failure for an apply error: its message (default: the error itself), or the message with
   * what the failed apply had changed already (a password file written before the SQL failed).
   */
  failure?(p: P, error: string, d: D, facts: F): string | ApplyFailure;
}

/** An apply that failed part-way: what a `register:` of the task sees. */
export interface ApplyFailure {
  msg: string;
  changed: boolean;
  data?: Record<string, unknown>;
}

export function runOperation<P, F, D extends { error?: string }>(op: Operation<P, F, D>): (ctx: ModuleContext, p: P) => Promise<ModuleResult> {
  return async (ctx, p) => {
    const facts = await op.read(ctx, p);
    if (facts && typeof facts === 'object' && 'result' in facts) return facts.result;
    const d = op.decide(p, facts as F);
    if (d.error) return { changed: false, failed: true, msg: d.error };
    const changed = op.changed(d);
    if (changed && !ctx.check) {
      const err = await op.apply(ctx, p, d, facts as F);
      if (err) {
        const f = op.failure ? op.failure(p, err, d, facts as F) : err;
        return typeof f === 'string' ? { changed: false, failed: true, msg: f } : { ...f, failed: true };
      }
    }
    return op.result(ctx, p, d, facts as F, changed);
  };
}

/**
 * An action: a module whose run changes something by its nature (a restart, a command) or only
 * probes (an HTTP check), with no state to read first that would tell a change apart. Check mode
 * says what a run would do; the kit, not the module, decides not to do it.
 */
export interface Action<P> {
  /** A refusal before anything runs (pure): an error message, or undefined. */
  refuse?(p: P): string | undefined;
  /** What a run would do, said in check mode after "would" ("restart web in /srv/app"). */
  would(p: P): string;
  /** A probe changes nothing: check mode skips it instead of counting a change. */
  probe?: boolean;
  act(ctx: ModuleContext, p: P): Promise<ModuleResult>;
}

export function runAction<P>(action: Action<P>): (ctx: ModuleContext, p: P) => Promise<ModuleResult> {
  return async (ctx, p) => {
    const refused = action.refuse?.(p);
    if (refused) return { changed: false, failed: true, msg: refused };
    if (!ctx.check) return action.act(ctx, p);
    const msg = `would ${action.would(p)}`;
    return action.probe ? { changed: false, skipped: true, msg } : { changed: true, msg };
  };
}
