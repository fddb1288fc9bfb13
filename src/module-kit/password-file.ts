/**
 * Generated passwords kept in a root-only file on the server that checks them (an app's MariaDB
 * or Redis password): made once on the control machine, written atomically, read back on every
 * later run, so a password changes only when its file is removed. The contents travel only in
 * `get` and `put`, which -vv never logs.
 */
import { randomInt } from 'node:crypto';
import path from 'node:path';
import { script } from '../command.js';
import { failed, FlightError } from '../errors.js';
import type { ModuleContext } from './contract.js';
import { tempPathFor } from './write.js';

/** 32 characters of [A-Za-z0-9] from the CSPRNG: ~190 bits, and safe in any .env or URL. */
export function generatePassword(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length: 32 }, () => chars[randomInt(chars.length)]).join('');
}

/** The password file's content as a password: one line (a final newline is allowed, as editors add one). */
export function parsePassword(content: string): { password?: string; error?: string } {
  const password = content.replace(/\r?\n$/, '');
  if (password === '') return { error: 'is empty' };
  if (/[\0\r\n]/.test(password)) return { error: 'holds more than one line' };
  return { password };
}

/**
 * A password file as read: its password; `unreadable` when `get` failed (most likely missing:
 * the caller's state read tells a missing file from one it cannot read); `invalid` when its
 * content is no password. A lost connection is thrown, not taken for a missing file.
 */
export type PasswordRead = { password: string } | { unreadable: string } | { invalid: string };

export async function readPasswordFile(ctx: ModuleContext, file: string): Promise<PasswordRead> {
  try {
    const parsed = parsePassword((await ctx.get(file)).toString('utf8'));
    if (parsed.error) return { invalid: `the password file ${file} on ${ctx.hostName} ${parsed.error}: fix it, or remove it to have a new password generated` };
    return { password: parsed.password! };
  } catch (err) {
    if (!(err instanceof FlightError) || err.kind !== 'failed') throw err;
    return { unreadable: err.message };
  }
}

/** Creates the password file's directory, private, when it is missing; an existing one is left as it is. */
const MKDIR_SCRIPT = '[ -d "$1" ] || mkdir -p -m 0700 -- "$1"';

/**
 * Writes the password beside its file (private directory, 0600 root temp file) and returns the
 * temp path, for the caller's apply step to rename over the file. Errors name the path, never
 * the content.
 */
export async function stagePasswordFile(ctx: ModuleContext, file: string, password: string): Promise<string> {
  const mkdir = await ctx.exec(script(MKDIR_SCRIPT, path.posix.dirname(file)));
  if (mkdir.code !== 0) throw failed(`${ctx.hostName}: cannot create the directory of ${file}: ${mkdir.stderr.trim()}`);
  const tmp = tempPathFor(file);
  await ctx.put(tmp, password, { mode: 0o600, owner: 'root', group: 'root' });
  return tmp;
}

/** Defence in depth for messages made of remote output: no password is ever shown. */
export const scrub = (text: string, passwords: readonly string[]): string =>
  passwords.filter(Boolean).reduce((t, p) => t.split(p).join('(password hidden)'), text);
