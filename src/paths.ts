/** Where Flight's own built-in content lives, wherever the code was installed or compiled to. */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'playbooks'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the Flight installation root (package.json beside playbooks/)');
}

export const ROOT = findRoot();
export const PLAYBOOKS_DIR = path.join(ROOT, 'playbooks');
export const TEMPLATES_DIR = path.join(ROOT, 'templates');
export const INVENTORY_DIR = path.join(ROOT, 'inventory');
