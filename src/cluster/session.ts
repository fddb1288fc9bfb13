/** What every step of one `server:add` or `server:remove` shares, and how it reports. */
import type { ConnectionPool } from '../connection/index.js';
import type { HostKeyPolicy } from '../inventory/types.js';
import type { Reporter } from '../reporters/types.js';

export interface ElasticReporter {
  /** One line for humans: a step begins, a wait, a decision. */
  step(line: string): void;
  /** A fresh reporter for each playbook a step runs. */
  playbook(): Reporter;
}

export interface ElasticOptions {
  defsDir: string;
  /** How long to wait for an app's deploy lock while releases hold it. Default 10 minutes. */
  lockTimeoutMs?: number;
  hostKeyPolicy?: HostKeyPolicy;
  verbosity?: number;
}

/** What every step of one add or remove shares. */
export interface Session {
  o: ElasticOptions;
  r: ElasticReporter;
  pool: ConnectionPool;
  cluster: string;
  name: string;
  action: 'add' | 'remove';
  /** Names this add or remove in deploy locks and release logs. */
  runId: string;
  who: string;
}
