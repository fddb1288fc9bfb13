/** Shapes shared by the lab's API, its CLI and its state file. */

export interface LabOptions {
  /** State directory (pids, keys, per-server roots). Default: $FLIGHT_LAB_DIR or /var/lib/flight-lab. */
  dir?: string;
  /** Where the base image is cached, shared by every lab on the machine. Default: $FLIGHT_LAB_CACHE or /var/cache/flight-lab. */
  cacheDir?: string;
  /** Progress lines (base build, server starts). Default: silent. */
  log?: (line: string) => void;
}

export interface LabUpOptions extends LabOptions {
  /** How many servers: lab-1 .. lab-N. Default 3. */
  servers?: number;
  /** Address of lab-1; lab-i gets the next ones. Default 127.0.0.2. */
  first?: string;
  /**
   * sshd port on every server. Default $FLIGHT_LAB_PORT, else 22, else 2222 when this machine's
   * own sshd listens on 0.0.0.0:22, which blocks port 22 on every loopback address.
   */
  port?: number;
  /** Definitions folder to write clusters/lab.yml into; omitted or null writes nothing. */
  defs?: string | null;
  /** Servers started at once. Default 16. */
  parallel?: number;
}

export interface LabDownOptions extends LabOptions {
  /** Also delete the per-server roots (the base cache stays). */
  purge?: boolean;
}

/** One server as callers see it. */
export interface LabServerInfo {
  name: string;
  address: string;
  port: number;
  user: string;
  /** Private key that logs in as root. */
  key: string;
  /** known_hosts holding every server's real host key. */
  knownHosts: string;
  /** Whether the cluster file written by this `up` makes it a web server. */
  web: boolean;
  /** Host PID of the server's PID 1, when running. */
  pid: number | null;
  running: boolean;
  /** sshd answered with its banner. */
  sshd: boolean;
}

export interface LabUpResult {
  dir: string;
  servers: LabServerInfo[];
  /** Servers this call started (the rest were already running). */
  started: string[];
  /** Path of clusters/lab.yml when written. */
  clusterFile: string | null;
  /** An ssh_config that names every server: `ssh -F <sshConfig> lab-1`. */
  sshConfig: string;
  /** Seconds spent building or unpacking the base image (0 when it was ready). */
  baseSeconds: number;
  seconds: number;
}

/** What state.json keeps about one server between commands. */
export interface ServerRecord {
  name: string;
  address: string;
  port: number;
  /** Hash of the base image its root is layered on. */
  base: string;
  /** 'overlay' (upper/work over the shared base) or 'copy' (a full cp -a of the base). */
  mode: 'overlay' | 'copy';
  /** Host PID of PID 1 inside the server, and its start time (clock ticks) to tell it from a reused PID. */
  pid: number | null;
  pidStart: number | null;
  /** Host PID of the `unshare` parent that holds the namespaces open. */
  unsharePid: number | null;
  unshareStart: number | null;
}

export interface LabState {
  version: 1;
  servers: ServerRecord[];
}
