/**
 * Builds the ModuleContext a module runs with: the task's `become` applied to every call,
 * commands logged at -vv, templates rendered with the host's variables.
 */
import path from 'node:path';
import { toShell, type Command } from '../command.js';
import { becomeUser } from '../connection/shell.js';
import type { Connection, ExecOptions, ExecResult, PutOptions } from '../connection/types.js';
import { splitReadsAfter, statPaths, withReadsAfter, type StatRequest } from './facts/file.js';
import type { Facts } from './facts/host.js';
import type { ModuleContext } from './contract.js';
import { renderFile, type Vars } from '../templating.js';
import { TEMPLATES_DIR } from '../paths.js';
import type { ReadAhead } from '../runner/read-ahead.js';

export interface ContextOptions {
  conn: Connection;
  facts: Facts;
  check?: boolean;
  diff?: boolean;
  /** Task-level become: true = root, a string = that user. */
  become?: boolean | string;
  vars?: Vars;
  /** The playbook's folder: local paths and templates resolve here first. */
  baseDir?: string;
  log?: (line: string) => void;
  /** This host's reads made ahead, and the requests of the tasks that follow (see read-ahead.ts). */
  readAhead?: { cache: ReadAhead; following: () => StatRequest[] };
}

export function createModuleContext(o: ContextOptions): ModuleContext {
  const baseDir = o.baseDir ?? process.cwd();
  const searchPaths = [path.join(baseDir, 'templates'), baseDir, TEMPLATES_DIR];
  const log = o.log ?? (() => {});
  const withBecome = <T extends { become?: boolean | string }>(opts: T | undefined): T =>
    ({ ...(opts ?? {}), become: opts?.become ?? o.become }) as T;
  const user = becomeUser(o.become) ?? o.conn.loginUser;
  const ahead = o.readAhead;
  // Whatever an earlier task staged is not this task's (read-ahead.ts).
  ahead?.cache.unstage();
  /** The task has made its own read: commands from here on are its apply. */
  let readDone = false;
  const send = (cmd: Command, opts?: ExecOptions) => o.conn.exec(cmd, withBecome(opts));
  /** Log at -vv what the module asked to run and what it got back (`note`: what else the call did). */
  const logged = (cmd: Command, opts: ExecOptions | undefined, res: ExecResult, note = ''): ExecResult => {
    log(`$ ${toShell(cmd)}${opts?.become ?? o.become ? `  (as ${opts?.become ?? o.become})` : ''}${note}\n  rc=${res.code}` +
      (res.stdout ? `\n  stdout: ${res.stdout.trimEnd()}` : '') + (res.stderr ? `\n  stderr: ${res.stderr.trimEnd()}` : ''));
    return res;
  };
  const ctx: ModuleContext = {
    hostName: o.conn.hostName,
    facts: o.facts,
    check: o.check ?? false,
    diff: o.diff ?? false,
    loginUser: o.conn.loginUser,
    async exec(cmd: Command, opts?: ExecOptions) {
      // After its own read, every command of the task (its apply) carries the reads of the tasks
      // that follow, so a change does not cost the next task a read (read-ahead.ts).
      const after = ahead && readDone ? ahead.following() : [];
      if (!after.length) return logged(cmd, opts, await send(cmd, opts));
      const res = await send(withReadsAfter(cmd, after), opts);
      const split = splitReadsAfter(res.stdout, after);
      if (split.states) ahead!.cache.stage(after, split.states, becomeUser(opts?.become ?? o.become) ?? o.conn.loginUser);
      return logged(cmd, opts, { ...res, stdout: split.stdout }, `  (then the reads of ${after.length} paths for the tasks that follow)`);
    },
    put(p: string, data: string | Buffer, opts?: PutOptions) {
      log(`put ${p} (${Buffer.byteLength(data)} bytes)`);
      ahead?.cache.unstage();
      return o.conn.put(p, data, withBecome(opts as PutOptions & { become?: boolean | string }));
    },
    get(p: string) {
      log(`get ${p}`);
      return o.conn.get(p, withBecome({}));
    },
    async stat(reqs: readonly StatRequest[]) {
      readDone = true;
      const plain = { exec: async (cmd: Command) => logged(cmd, undefined, await send(cmd)) };
      if (!ahead) return statPaths(plain, reqs);
      const known = ahead.cache.take(reqs, user);
      if (known) {
        log(`stat ${reqs.map((r) => r.path).join(' ')} (read ahead)`);
        return known;
      }
      const all = [...reqs, ...ahead.following()];
      const states = await statPaths(plain, all);
      ahead.cache.keep(all, states, user);
      return states.slice(0, reqs.length);
    },
    async renderTemplate(src: string) {
      return renderFile(src, o.vars ?? {}, searchPaths);
    },
    localPath(p: string) {
      return path.resolve(baseDir, p);
    },
    log,
  };
  return ctx;
}
