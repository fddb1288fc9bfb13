/**
 * Definitions folders and labs of one's own: a copy of inventory/ that `flight lab up --defs`
 * writes the lab's cluster file into, so a run can change apps and clusters without touching the
 * checkout, and a separate lab (own state dir and addresses) for work that must not share the
 * default lab's servers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { labStatus } from '../src/lab/index.js';
import { describeRun, flight, ROOT, type FlightRun } from './cli.js';
import type { LabServer } from './ssh.js';

export interface TempDefs {
  /** The definitions folder, for `--defs`. */
  dir: string;
  /** The lab whose cluster file is in clusters/lab.yml (its state dir; undefined: the default lab). */
  labDir?: string;
  /** apps/NAME.yml. */
  appFile(name: string): string;
  /** Point every app (or the given ones) at this repository: an absolute path or URL. */
  setRepo(repo: string, apps?: string[]): void;
  /** A copy of this folder (cluster file included) to break without touching this one. */
  copy(): TempDefs;
  /** Remove the folder (not the lab). */
  cleanup(): void;
}

export interface MakeDefsOptions {
  /** Lab state dir (`flight lab up --dir`); default: the default lab. */
  labDir?: string;
  /** First address of that lab (`--first`), e.g. 127.0.0.20. */
  first?: string;
  /** Servers in that lab (`--servers`, default 3). */
  servers?: number;
  /** Point every app at this repository. */
  repo?: string;
  /** Where to make the folder (default: the system temp dir). */
  parent?: string;
}

function tempDefs(dir: string, labDir: string | undefined): TempDefs {
  const self: TempDefs = {
    dir,
    labDir,
    appFile: (name) => path.join(dir, 'apps', `${name}.yml`),
    setRepo(repo, apps) {
      const names = apps ?? fs.readdirSync(path.join(dir, 'apps')).filter((f) => f.endsWith('.yml')).map((f) => f.slice(0, -4));
      for (const name of names) {
        const file = self.appFile(name);
        const text = fs.readFileSync(file, 'utf8');
        // The example apps carry a relative `repo:` (resolved from the definitions folder, so a
        // copy would lose it); the top-level key is one line, so replace that line.
        if (!/^repo:.*$/m.test(text)) throw new Error(`${file} has no top-level repo: line`);
        fs.writeFileSync(file, text.replace(/^repo:.*$/m, `repo: ${JSON.stringify(repo)}`));
      }
    },
    copy() {
      const to = fs.mkdtempSync(path.join(path.dirname(dir), 'flight-defs-'));
      fs.cpSync(dir, to, { recursive: true });
      return tempDefs(to, labDir);
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
  return self;
}

/**
 * A private definitions folder: inventory/ copied to a temp dir, then `flight lab up --defs DIR`
 * (with the lab options) writes the lab's clusters/lab.yml into it. `lab up` is idempotent: for a
 * lab that is already running it only writes the cluster file.
 */
export async function makeDefs(opts: MakeDefsOptions = {}): Promise<TempDefs> {
  const dir = fs.mkdtempSync(path.join(opts.parent ?? os.tmpdir(), 'flight-defs-'));
  fs.cpSync(path.join(ROOT, 'inventory'), dir, { recursive: true });
  const args = ['lab', 'up', '--defs', dir];
  if (opts.labDir) args.push('--dir', opts.labDir);
  if (opts.first) args.push('--first', opts.first);
  if (opts.servers) args.push('--servers', String(opts.servers));
  const up = await flight(args, { timeoutMs: 20 * 60_000 });
  if (up.code !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`flight lab up failed:\n${describeRun(up)}\n${up.stdout}`);
  }
  const defs = tempDefs(dir, opts.labDir);
  if (opts.repo) defs.setRepo(opts.repo);
  return defs;
}

/** The running servers of a lab (default: the default lab) in the shape sshRun takes. */
export async function labServers(labDir?: string): Promise<LabServer[]> {
  const servers = await labStatus({ dir: labDir });
  return servers.map((s) => ({ name: s.name, address: s.address, port: s.port, user: s.user, key: s.key, knownHosts: s.knownHosts, web: s.web }));
}

/**
 * A separate lab for one test file (its own state dir and addresses, e.g. a fresh one for check
 * mode), with a definitions folder for it. `down()` runs `flight lab down --dir DIR --purge` and
 * removes the folders; call it in an `after` hook or a finally.
 */
export async function makeLab(opts: { first: string; servers?: number; repo?: string; parent?: string }): Promise<{ labDir: string; defs: TempDefs; servers: LabServer[]; down(): Promise<FlightRun> }> {
  // Under /tmp, not os.tmpdir(): the lab refuses state dirs with commas, colons or spaces.
  const labDir = fs.mkdtempSync(path.join(opts.parent ?? '/tmp', 'flight-lab-'));
  let defs: TempDefs | undefined;
  const down = async () => {
    const r = await flight(['lab', 'down', '--dir', labDir, '--purge'], { timeoutMs: 5 * 60_000 });
    if (r.code === 0) fs.rmSync(labDir, { recursive: true, force: true });
    defs?.cleanup();
    return r;
  };
  try {
    defs = await makeDefs({ labDir, first: opts.first, servers: opts.servers, repo: opts.repo, parent: opts.parent });
    return { labDir, defs, servers: await labServers(labDir), down };
  } catch (err) {
    await down();
    throw err;
  }
}
