/** state.json: the servers of one lab, their addresses and PIDs, kept between commands. */
import fs from 'node:fs';
import { writeAtomic } from './keys.js';
import type { LabPaths } from './paths.js';
import type { LabState, ServerRecord } from './types.js';
import { serverIndex } from './addresses.js';

export function readState(paths: LabPaths): LabState {
  let text: string;
  try {
    text = fs.readFileSync(paths.state, 'utf8');
  } catch {
    return { version: 1, servers: [] };
  }
  const state = JSON.parse(text) as LabState;
  return { version: 1, servers: Array.isArray(state.servers) ? state.servers : [] };
}

export function writeState(paths: LabPaths, state: LabState): void {
  fs.mkdirSync(paths.dir, { recursive: true });
  state.servers.sort((a, b) => (serverIndex(a.name) ?? 0) - (serverIndex(b.name) ?? 0));
  writeAtomic(paths.state, `${JSON.stringify(state, null, 2)}\n`);
}

export function findServer(state: LabState, name: string): ServerRecord | undefined {
  return state.servers.find((s) => s.name === name);
}
