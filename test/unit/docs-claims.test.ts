/**
 * The docs against the code: every `--flag` the README and docs/ name is an option some Flight
 * command declares (src/cli/args.ts specs) or one named here as another tool's; every top-level
 * key the README's definition examples use is a key of the schemas. A renamed or removed option
 * or key cannot stay in the docs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT } from '../../src/paths.js';
import { PLAY_OPTIONS } from '../../src/cli/options.js';
import { verbOptions } from '../../src/cli/verbs.js';
import { LAB_OPTIONS } from '../../src/lab/cli.js';
import { SERVER_OPTIONS } from '../../src/cluster/cli.js';
import { SERVE_OPTIONS, TOKEN_OPTIONS } from '../../src/serve/cli.js';
import { appSchema } from '../../src/definitions/schemas/app.js';
import { clusterSchema } from '../../src/definitions/schemas/cluster.js';
import { configSchema } from '../../src/definitions/schemas/config.js';

const DOCS = ['README.md', 'inventory/README.md', 'examples/laravel/README.md', 'bench/README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Options of other tools the docs name, by tool: never Flight's. */
const FOREIGN: Record<string, string[]> = {
  curl: ['fail', 'fail-with-body', 'silent', 'show-error', 'max-time'],
  git: ['upload-pack'],
  rsync: ['delete', 'checksum'],
  artisan: ['force', 'sleep', 'timeout', 'tries', 'queue', 'show'],
  // npm run bench / bench:opcache (bench/run.ts, bench/opcache.ts).
  bench: ['runs', 'ansible-runs', 'large-runs', 'only', 'quick', 'keep', 'merge', 'budget', 'repeats', 'rate', 'first', 'out', 'lab', 'seconds', 'loops'],
  composer: ['prefer-dist', 'no-progress', 'no-interaction', 'no-dev', 'optimize-autoloader', 'quiet'],
  // What people type and Flight refuses, or the generic form: named as such.
  examples: ['dry-run', 'opt'],
};

const flightOptions = (): Set<string> => {
  const verbs = ['provision', 'app:configure', 'app:release', 'app:rollback', 'app:releases', 'env:pull', 'env:push'];
  const specs = [PLAY_OPTIONS, ...verbs.map(verbOptions), LAB_OPTIONS, SERVER_OPTIONS, SERVE_OPTIONS, TOKEN_OPTIONS];
  return new Set(specs.flat().map((s) => s.name));
};

test('every --flag the docs name is a Flight option, or another tool\'s named as such', () => {
  const known = flightOptions();
  const foreign = new Set(Object.values(FOREIGN).flat());
  const unknown: string[] = [];
  for (const doc of DOCS) {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
    for (const m of text.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*[a-z0-9])/g)) {
      if (!known.has(m[1]!) && !foreign.has(m[1]!)) unknown.push(`${doc}: --${m[1]}`);
    }
  }
  assert.deepEqual([...new Set(unknown)], []);
});

test("the README's definition examples use only keys the schemas know", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 2, 'the README shows definition files');
  const schemaFor = (block: string) => (/^# apps\//m.test(block) ? appSchema : /^# flight\.yml/m.test(block) ? configSchema : /^# clusters\//m.test(block) ? clusterSchema : undefined);
  let checked = 0;
  for (const block of blocks) {
    const schema = schemaFor(block);
    if (!schema) continue;
    const data = YAML.parse(block) as Record<string, unknown>;
    for (const key of Object.keys(data)) assert.ok(key in schema.properties, `README example key '${key}' is not in the schema`);
    checked++;
  }
  assert.ok(checked >= 2, `definition examples checked: ${checked}`);
});
