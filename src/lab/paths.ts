/** Where a lab keeps its files. One state dir per lab; the base image cache is shared by all labs. */
import path from 'node:path';

export function defaultLabDir(): string {
  return path.resolve(process.env.FLIGHT_LAB_DIR || '/var/lib/flight-lab');
}

export function defaultCacheDir(): string {
  return path.resolve(process.env.FLIGHT_LAB_CACHE || '/var/cache/flight-lab');
}

export interface LabPaths {
  dir: string;
  cache: string;
  state: string;
  lock: string;
  sshDir: string;
  key: string;
  publicKey: string;
  knownHosts: string;
  sshConfig: string;
  serversDir: string;
}

export function labPaths(dir?: string, cacheDir?: string): LabPaths {
  const root = path.resolve(dir ?? defaultLabDir());
  const sshDir = path.join(root, 'ssh');
  return {
    dir: root,
    cache: path.resolve(cacheDir ?? defaultCacheDir()),
    state: path.join(root, 'state.json'),
    lock: path.join(root, 'lock'),
    sshDir,
    key: path.join(sshDir, 'id_ed25519'),
    publicKey: path.join(sshDir, 'id_ed25519.pub'),
    knownHosts: path.join(sshDir, 'known_hosts'),
    sshConfig: path.join(sshDir, 'config'),
    serversDir: path.join(root, 'servers'),
  };
}

/** Per-server files: `root` is the chroot (overlay mount point, or the full copy), `upper`/`work` the overlay layers. */
export interface ServerPaths {
  dir: string;
  root: string;
  upper: string;
  work: string;
  hostKey: string;
  console: string;
}

export function serverPaths(paths: LabPaths, name: string): ServerPaths {
  const dir = path.join(paths.serversDir, name);
  return {
    dir,
    root: path.join(dir, 'root'),
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    hostKey: path.join(dir, 'ssh_host_ed25519_key'),
    console: path.join(dir, 'console.log'),
  };
}
