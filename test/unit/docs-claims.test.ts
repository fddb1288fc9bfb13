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
import { DEFINITION_VERBS, verbOptions } from '../../src/cli/verbs.js';
import { LAB_OPTIONS } from '../../src/cli/lab.js';
import { SERVER_OPTIONS } from '../../src/cli/servers.js';
import { SERVE_OPTIONS, TOKEN_OPTIONS } from '../../src/cli/serve.js';
import { appSchema, DEFAULT_AUTO_ROLLBACK, DEFAULT_OPCACHE_WARMUP, DEFAULT_WEB } from '../../src/definitions/schemas/app.js';
import { clusterSchema } from '../../src/definitions/schemas/cluster.js';
import { configSchema } from '../../src/definitions/schemas/config.js';

const DOCS = ['README.md', 'inventory/README.md', 'examples/laravel/README.md', 'bench/README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Options of other tools the docs name, by tool: never Flight's. */
const FOREIGN: Record<string, string[]> = {
  curl: ['fail', 'fail-with-body', 'silent', 'show-error', 'max-time'],
  git: ['upload-pack'],
  rsync: ['delete', 'checksum'],
  useradd: ['create-home', 'shell'],
  'systemd-run': ['scope'],
  artisan: ['force', 'sleep', 'timeout', 'tries', 'queue', 'show'],
  // npm run bench / bench:opcache (bench/run.ts, bench/opcache.ts).
  bench: ['runs', 'ansible-runs', 'large-runs', 'only', 'quick', 'keep', 'merge', 'budget', 'repeats', 'rate', 'first', 'out', 'lab', 'seconds', 'loops'],
  composer: ['prefer-dist', 'no-progress', 'no-interaction', 'no-dev', 'optimize-autoloader', 'quiet'],
  // What people type and Flight refuses, or the generic form: named as such.
  examples: ['dry-run', 'opt'],
};

const flightOptions = (): Set<string> => {
  const specs = [PLAY_OPTIONS, ...DEFINITION_VERBS.map(verbOptions), LAB_OPTIONS, SERVER_OPTIONS, SERVE_OPTIONS, TOKEN_OPTIONS];
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

/** Every default of the definitions, by key: the schemas' `default`s and those toApp fills in. */
function definitionDefaults(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (key: string, value: unknown) => {
    if (value === null || typeof value === 'object') return;
    if (!out.has(key)) out.set(key, new Set());
    out.get(key)!.add(String(value));
  };
  const walk = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const props = (node as { properties?: Record<string, { default?: unknown }> }).properties;
    for (const [key, prop] of Object.entries(props ?? {})) if (prop && typeof prop === 'object' && 'default' in prop) add(key, prop.default);
    for (const child of Object.values(node)) walk(child);
  };
  for (const schema of [appSchema, clusterSchema, configSchema]) walk(schema);
  for (const [key, value] of Object.entries({ ...DEFAULT_WEB, ...DEFAULT_AUTO_ROLLBACK, ...DEFAULT_OPCACHE_WARMUP })) add(key, value);
  return out;
}

/** The files a user reads definitions from: the docs and the example definitions folder. */
const DEFINITION_DOCS = [
  ...DOCS,
  ...['inventory/flight.yml', ...['apps', 'examples'].flatMap((d) => fs.readdirSync(path.join(ROOT, 'inventory', d)).map((f) => `inventory/${d}/${f}`))],
];

test('every default the docs state for a definition key is the one the code applies', () => {
  const defaults = definitionDefaults();
  assert.ok(defaults.get('keep_releases')?.size && defaults.get('budget_mb')?.size, 'the defaults are found');
  const wrong: string[] = [];
  let checked = 0;
  const claim = (where: string, key: string, value: string) => {
    const known = defaults.get(key);
    if (!known || !/^(\d+(\.\d+)?|true|false)$/.test(value)) return;
    checked++;
    if (!known.has(value)) wrong.push(`${where}: ${key} default ${value}, but the code's is ${[...known].join(' or ')}`);
  };
  for (const doc of DEFINITION_DOCS) {
    let inDefaultsBlock = false;
    for (const [i, line] of fs.readFileSync(path.join(ROOT, doc), 'utf8').split('\n').entries()) {
      const where = `${doc}:${i + 1}`;
      if (/^\s*```/.test(line) || line.trim() === '') inDefaultsBlock = false;
      // `key: value   # ... (default N)` and `key: value   # default: N`
      const yamlKey = /^\s*#?\s*([a-z_]+):\s*[^#]*#.*\bdefault:?\s+([\w.]+)/.exec(line);
      if (yamlKey) claim(where, yamlKey[1]!, yamlKey[2]!);
      // prose: `key` ... (default N)
      for (const m of line.matchAll(/`([a-z_]+)`[^`(]{0,40}\(default:?\s+([\w.]+)/g)) claim(where, m[1]!, m[2]!);
      // A block whose lines say they are the defaults: every `key: value` after that line.
      const kv = /^\s*([a-z_]+):\s*([\w.]+)\s*(#|$)/.exec(line);
      if (inDefaultsBlock && kv) claim(where, kv[1]!, kv[2]!);
      if (/these are the defaults/.test(line)) inDefaultsBlock = true;
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(checked >= 5, `default claims checked: ${checked}`);
});

test("docs/serve.md: the options table's defaults are the ones --help states; the quick start's commands share one data dir", () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'serve.md'), 'utf8');
  let checked = 0;
  for (const m of doc.matchAll(/^\| `--([a-z-]+)[^`]*` \| `([\w.]+)` \|/gm)) {
    const spec = SERVE_OPTIONS.find((o) => o.name === m[1]);
    assert.ok(spec, `--${m[1]} is a flight serve option`);
    assert.match(spec.help, new RegExp(`default ${m[2]!.replace(/\./g, '\\.')}\\b`), `--${m[1]}: the docs say the default is ${m[2]}, --help says '${spec.help}'`);
    checked++;
  }
  assert.ok(checked >= 3, `defaults checked: ${checked}`);
  const quick = /```sh\n([\s\S]*?)```/.exec(doc)![1]!;
  const dataOf = (verb: string) => new RegExp(`flight ${verb} .*--data (\\S+)`).exec(quick)?.[1];
  assert.ok(dataOf('serve'), 'the quick start starts flight serve with --data');
  assert.equal(dataOf('token:create'), dataOf('serve'), 'the token is created where the server reads tokens');
});

test('every file of the project the docs name exists', () => {
  const missing: string[] = [];
  let checked = 0;
  for (const doc of DOCS) {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
    for (const m of text.matchAll(/(?<![\w/.-])((?:src|modules|playbooks|templates|test|bench|lab-kit|scripts|docs|examples|inventory)\/[\w./-]*\w)/g)) {
      const p = m[1]!;
      // Placeholders (`apps/APP.yml`) and globs are not files.
      if (/[A-Z]{2,}|\*/.test(p)) continue;
      checked++;
      // From the project's root or the doc's own folder; a module may be named without `.ts`.
      const found = [path.join(ROOT, p), path.join(ROOT, path.dirname(doc), p)].some((f) => fs.existsSync(f) || fs.existsSync(`${f}.ts`));
      if (!found) missing.push(`${doc}: ${p}`);
    }
  }
  assert.deepEqual([...new Set(missing)], []);
  assert.ok(checked >= 30, `paths checked: ${checked}`);
});
