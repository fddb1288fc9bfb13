/**
 * Built-in content inside the single executable. Node 20's single executable applications
 * cannot carry files (SEA assets arrive in node 21), so the build puts the playbooks, templates
 * and example inventory into the bundle as data, and the executable unpacks them once per
 * version into a cache folder, where the code finds them exactly as in an npm install.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SeaAssets {
  version: string;
  /** Relative path -> [mode, base64 content]. */
  files: Record<string, [number, string]>;
}

declare global {
  // Set by the bundle's generated assets module before the entry runs.
  var __flightSeaAssets: SeaAssets | undefined;
}

/** Unpack (once) and return the folder that stands in for the installation root. */
export function unpackAssets(assets: SeaAssets): string {
  const digest = createHash('sha256');
  for (const [rel, [mode, data]] of Object.entries(assets.files).sort(([a], [b]) => (a < b ? -1 : 1))) digest.update(`${rel}\0${mode}\0${data}\0`);
  const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const root = path.join(cacheHome, 'flight', `sea-${assets.version}-${digest.digest('hex').slice(0, 12)}`);
  if (fs.existsSync(path.join(root, '.complete'))) return root;
  // Unpacked beside the target and renamed into place: two first runs at once, or a run killed
  // half-way, never leave a partial root behind.
  fs.mkdirSync(path.dirname(root), { recursive: true });
  const tmp = fs.mkdtempSync(`${root}.tmp-`);
  for (const [rel, [mode, data]] of Object.entries(assets.files)) {
    const file = path.join(tmp, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.from(data, 'base64'), { mode });
  }
  fs.writeFileSync(path.join(tmp, '.complete'), '');
  try {
    fs.renameSync(tmp, root);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(root, '.complete'))) throw err;
  }
  return root;
}
