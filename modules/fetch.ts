/**
 * fetch: copy a file from the host to the control machine (e.g. an app's .env for
 * `flight env:pull`).
 *
 * One read: the remote file's sha256. The bytes are transferred only when they differ from the
 * local copy, then written locally through a temp file and a rename, so a reader of `dest` never
 * sees half a file. Fetched files are usually secrets: the content is never shown (no diff, no
 * message), and the local file is created 0600 unless `mode` says otherwise.
 *
 * With `env: true` the file is an app's .env and the local copy is its user part only, Flight's
 * managed block left out (src/module-kit/env-block.ts), so `flight env:pull` gives back exactly what
 * `flight env:push` sent. That part exists only once the file is split, so the read is the
 * file itself (one `get`, which logs no content) instead of its checksum.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule, type ModuleContext } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import { splitEnv } from '../src/module-kit/env-block.js';
import { modeSchema, pathSchema } from '../src/module-kit/schemas.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['src', 'dest'],
  properties: {
    src: { ...pathSchema, description: 'Absolute path of a regular file on the host.' },
    dest: { type: 'string', minLength: 1, description: "Local path (relative to the playbook); ending in `/`: a directory that gets src's basename." },
    mode: { ...modeSchema, description: 'Local file mode, default "0600".' },
    env: { type: 'boolean', description: "src is an env file: fetch its user part only, without Flight's managed block." },
  },
} as const;

/** The arguments, as the schema declares them. */
export type FetchParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export function localDest(dest: string, src: string): string {
  return dest.endsWith('/') ? path.join(dest, path.posix.basename(src)) : dest;
}

export interface LocalState {
  sha256?: string;
  mode?: number;
}

export interface FetchPlan {
  /** Never set: what fetch refuses, its read finds. */
  error?: string;
  transfer: boolean;
  chmod: boolean;
}

/** The local file's mode the task wants. */
const wantedMode = (p: FetchParams): number => parseInt(p.mode ?? '0600', 8);

/** Decide from the remote checksum and the local file (pure). */
export function planFetch(remoteSha: string, local: LocalState, mode: number): FetchPlan {
  const transfer = local.sha256 !== remoteSha;
  return { transfer, chmod: !transfer && local.mode !== mode };
}

async function readLocal(file: string): Promise<LocalState | { error: string }> {
  try {
    const s = await stat(file);
    if (!s.isFile()) return { error: `local dest ${file} exists and is not a regular file` };
    return { sha256: sha256(await readFile(file)), mode: s.mode & 0o7777 };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    return { error: `cannot read local ${file}: ${(err as Error).message}` };
  }
}

/** Write through a sibling temp file created with the final mode, so the content is never readable by others, even briefly. */
async function writeLocal(file: string, data: Buffer, mode: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.flight-${randomBytes(6).toString('hex')}`);
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask may have trimmed the mode given to open()
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * What is to be stored locally: its sha256 (also what `data` reports), and its bytes when
 * reading it took them already; otherwise `transfer` gets them if they are needed, and they are
 * kept here for the message, which counts them.
 */
interface Source {
  sha256: string;
  bytes?: Buffer;
}

/** The whole file: its checksum now, its bytes only if they must be transferred. */
async function fileSource(ctx: ModuleContext, src: string): Promise<Source | { error: string }> {
  const [remote] = await ctx.stat([{ path: src, checksum: true }]);
  if (remote!.type === 'missing') return { error: `${src} does not exist on the host` };
  if (remote!.type !== 'file' || !remote!.sha256) return { error: `${src} is not a readable regular file` };
  return { sha256: remote!.sha256 };
}

/** An env file's user part: the file is read and split, so the bytes come with the answer. */
async function envSource(ctx: ModuleContext, src: string): Promise<Source | { error: string }> {
  try {
    const bytes = splitEnv(await ctx.get(src)).user;
    return { sha256: sha256(bytes), bytes };
  } catch (err) {
    return { error: `cannot read ${src}: ${(err as Error).message}` };
  }
}

/** The bytes of a whole file, refused when they are not the ones checksummed. */
async function transfer(ctx: ModuleContext, src: string, want: string): Promise<Buffer | { error: string }> {
  let bytes: Buffer;
  try {
    bytes = await ctx.get(src);
  } catch (err) {
    return { error: `cannot read ${src}: ${(err as Error).message}` };
  }
  // The file may have changed between the two reads; never store something unverified.
  if (sha256(bytes) !== want) return { error: `${src} changed while being fetched; run again` };
  return bytes;
}

/** The local file, the remote content and what the local file holds now. */
interface FetchFacts {
  file: string;
  source: Source;
  local: LocalState;
}

export const fetch = defineModule<FetchParams>({
  name: 'fetch',
  schema,
  run: runOperation<FetchParams, FetchFacts, FetchPlan>({
    async read(ctx, p) {
      const source = p.env ? await envSource(ctx, p.src) : await fileSource(ctx, p.src);
      if ('error' in source) return { result: { changed: false, failed: true, msg: source.error } };
      const file = ctx.localPath(localDest(p.dest, p.src));
      const local = await readLocal(file);
      if ('error' in local) return { result: { changed: false, failed: true, msg: local.error } };
      return { file, source, local };
    },
    decide: (p, f) => planFetch(f.source.sha256, f.local, wantedMode(p)),
    changed: (plan) => plan.transfer || plan.chmod,
    async apply(ctx, p, plan, f) {
      if (plan.chmod) {
        await chmod(f.file, wantedMode(p));
        return undefined;
      }
      const bytes = f.source.bytes ?? (await transfer(ctx, p.src, f.source.sha256));
      if (!Buffer.isBuffer(bytes)) return bytes.error;
      f.source.bytes = bytes;
      try {
        await writeLocal(f.file, bytes, wantedMode(p));
      } catch (err) {
        return `cannot write ${f.file}: ${(err as Error).message}`;
      }
      return undefined;
    },
    result(ctx, p, plan, f, changed) {
      const data = { dest: f.file, sha256: f.source.sha256 };
      const modeText = `0${wantedMode(p).toString(8)}`;
      if (!changed) return { changed: false, msg: `${f.file} up to date`, data };
      // Check mode is read for the wording only: the decision is the same in both modes.
      if (ctx.check) return { changed: true, msg: plan.transfer ? `would fetch ${p.src} to ${f.file}` : `would set mode ${modeText} on ${f.file}`, data };
      if (plan.chmod) return { changed: true, msg: `set mode ${modeText} on ${f.file}`, data };
      const what = p.env ? 'the user part of ' : '';
      return { changed: true, msg: `fetched ${what}${p.src} to ${f.file} (${f.source.bytes!.length} bytes)`, data };
    },
  }),
});
