/** Finding and loading playbooks: the built-in ones by name, the user's by path, checked against the modules. */
import fs from 'node:fs';
import path from 'node:path';
import { invalid } from '../errors.js';
import { modules } from '../../modules/index.js';
import { catalogOf } from '../module-kit/catalog.js';
import { loadPlaybook as parsePlaybook } from '../playbook/load.js';
import type { Playbook } from '../playbook/types.js';
import { PLAYBOOKS_DIR } from '../paths.js';

/** What the loader checks task arguments against: every module's declared arguments. */
export const catalog = catalogOf(modules);

/** A built-in playbook by name (`release`, `release.yml`) or a path to the user's own. */
export function resolvePlaybook(name: string): string {
  if (fs.existsSync(name) && fs.statSync(name).isFile()) return name;
  for (const candidate of [name, `${name}.yml`, `${name}.yaml`]) {
    const builtIn = path.join(PLAYBOOKS_DIR, candidate);
    if (!candidate.includes('/') && fs.existsSync(builtIn)) return builtIn;
  }
  const builtIns = fs.readdirSync(PLAYBOOKS_DIR).filter((f) => f.endsWith('.yml')).map((f) => f.replace(/\.yml$/, ''));
  throw invalid(`playbook '${name}' not found (a path to a playbook file, or a built-in: ${builtIns.join(', ')})`);
}

/** Resolve and load (every keyword and module argument checked) a playbook by name or path. */
export function loadPlaybook(name: string): Playbook {
  return parsePlaybook(resolvePlaybook(name), catalog, name);
}
