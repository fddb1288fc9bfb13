/**
 * Writing clusters/<cluster>.servers.yml, the record of servers `flight server:add` added.
 *
 * Every change is read-modify-write under a lock on the control machine (a `flight serve` and a
 * terminal may add servers to one cluster at once), replaces only the changed server's entry
 * (the file's header and other entries keep their comments), and is checked before it lands:
 * the whole definitions folder must still load with the new text, with the same positioned
 * errors as any definition file, or nothing is written. The file goes when its last server does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';
import { addedFileOf } from '../definitions/added.js';
import { checkDefinitions, listDefinitionFiles, type DefinitionSource } from '../definitions/load.js';
import type { FromSchema } from 'json-schema-to-ts';
import type { addedServer, appEntry } from '../definitions/schemas/added.js';
import { failed } from '../errors.js';
import { ProblemsError } from '../problems.js';

/** An app entry as written: the schema's shape (schemas/added.ts), defaults filled in. */
export type AppEntryData = FromSchema<typeof appEntry>;

/** A server entry as written, ssh paths exactly as the user gave them: the schema's shape. */
export type AddedRecordData = FromSchema<typeof addedServer>;

const HEADER = (cluster: string) =>
  `Servers added to cluster '${cluster}' by \`flight server:add\`, and their settings for the apps\n` +
  `they joined. Written by Flight (server:add, server:remove); merged with clusters/${cluster}.yml\n` +
  'and the apps when the definitions load. See docs/elastic.md.';

/** Now, as the state file writes times: UTC, to the second. */
export const utcNow = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export const whoAmI = (): string => `${os.userInfo().username}@${os.hostname()}`;

/** The record of one server as plain data, or undefined. */
export function readRecord(defsDir: string, cluster: string, name: string): AddedRecordData | undefined {
  const file = path.join(defsDir, addedFileOf(cluster));
  if (!fs.existsSync(file)) return undefined;
  const data = parseDocument(fs.readFileSync(file, 'utf8')).toJS() as { servers?: AddedRecordData[] } | null;
  return data?.servers?.find((s) => s.name === name);
}

/**
 * Change one server's record: `edit` gets the current record (undefined when there is none)
 * and returns the new one, or null to drop it. Throws a ProblemsError, and writes nothing, when
 * the definitions would not load afterwards; `dryRun` only checks that.
 */
export async function editRecord(
  defsDir: string,
  cluster: string,
  name: string,
  edit: (current: AddedRecordData | undefined) => AddedRecordData | null,
  options: { dryRun?: boolean } = {},
): Promise<void> {
  const rel = addedFileOf(cluster);
  const file = path.join(defsDir, rel);
  await withLock(`${path.join(path.dirname(file), `.${cluster}.servers.lock`)}`, async () => {
    const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    const doc = before === undefined ? newDocument(cluster) : parseDocument(before);
    const seq = doc.get('servers');
    if (!isSeq(seq)) throw failed(`${rel}: no servers list to change (fix the file by hand)`);
    const at = seq.items.findIndex((item) => isMap(item) && (item as YAMLMap).get('name') === name);
    const current = at >= 0 ? ((seq.items[at] as YAMLMap).toJSON() as AddedRecordData) : undefined;
    const next = edit(current === undefined ? undefined : structuredClone(current));
    if (next === null) {
      if (at >= 0) seq.items.splice(at, 1);
    } else {
      const node = doc.createNode(order(next)) as YAMLMap;
      // Short mappings on one line, as the lab's cluster file writes `ssh:`.
      const flow = (n: unknown) => {
        if (isMap(n)) n.flow = true;
      };
      flow(node.get('ssh', true));
      const apps = node.get('apps', true);
      if (isMap(apps)) {
        for (const pair of apps.items) {
          if (!isMap(pair.value)) continue;
          flow(pair.value.get('web', true));
          const queues = pair.value.get('queues', true);
          if (isSeq(queues)) queues.items.forEach(flow);
        }
      }
      if (at >= 0) seq.items[at] = node;
      else seq.items.push(node);
    }
    const text = seq.items.length ? doc.toString({ lineWidth: 0 }) : undefined;
    await checkWith(defsDir, rel, text);
    if (options.dryRun) return;
    if (text === undefined) fs.rmSync(file, { force: true });
    else writeAtomic(file, text);
  });
}

function newDocument(cluster: string): Document {
  const doc = parseDocument('servers: []\n');
  doc.commentBefore = HEADER(cluster).split('\n').map((l) => ` ${l}`).join('\n');
  (doc.get('servers') as { flow?: boolean }).flow = false;
  return doc;
}

/** Keys in a stable, readable order: who the server is first, then its state, then its apps. */
function order(r: AddedRecordData): Record<string, unknown> {
  const out: Record<string, unknown> = { name: r.name, host: r.host, web_server: r.web_server };
  if (r.listen !== undefined) out.listen = r.listen;
  if (r.ssh !== undefined && Object.keys(r.ssh).length) out.ssh = r.ssh;
  if (r.like !== undefined) out.like = r.like;
  out.status = r.status;
  out.since = r.since;
  if (r.by !== undefined) out.by = r.by;
  if (r.pid !== undefined) out.pid = r.pid;
  if (r.error !== undefined) out.error = r.error;
  out.apps = Object.fromEntries(Object.entries(r.apps).map(([app, e]) => [app, {
    joined: e.joined, web: e.web, deploy_commands: e.deploy_commands, queues: e.queues, scheduler: e.scheduler,
  }]));
  return out;
}

/** The definitions folder with `rel` replaced by `text` (or without it) must load. */
async function checkWith(defsDir: string, rel: string, text: string | undefined): Promise<void> {
  const files = (await listDefinitionFiles(defsDir)).filter((f) => f !== rel);
  const sources: DefinitionSource[] = files.map((file) => ({ file, text: fs.readFileSync(path.join(defsDir, file), 'utf8') }));
  if (text !== undefined) sources.push({ file: rel, text });
  const result = checkDefinitions(defsDir, sources);
  if (result.problems.length) throw new ProblemsError(`not writing ${rel}: the definitions would not load`, result.problems);
}

function writeAtomic(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

/**
 * A lock directory (mkdir is atomic). A change takes milliseconds, so a lock older than a
 * minute was left by a process that died mid-change and is broken.
 */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      fs.mkdirSync(dir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (fs.statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 60_000) fs.rmSync(dir, { recursive: true, force: true });
      else if (Date.now() > deadline) throw failed(`${dir} is held by another change of the same file: try again`);
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
