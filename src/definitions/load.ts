/**
 * Loads a definitions folder: flight.yml (optional), clusters/*.yml, apps/*.yml. Every file is
 * parsed and checked, and every problem in every file is reported in one error, before anything
 * connects anywhere.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { invalid } from '../errors.js';
import { createAjv } from '../json-schema.js';
import { ProblemsError, sortProblems, type Problem } from '../problems.js';
import { formatSchemaErrors, parseYamlWithPositions, type YamlFile } from '../yaml-positions.js';
import { ADDED_FILE, checkAdded, mergeAdded, toAdded } from './added.js';
import { checkAcrossFiles, checkApp, checkCluster, type Checked } from './checks.js';
import { appNameProblem, clusterNameProblem } from './names.js';
import { toApp, toCluster, toConfig } from './normalize.js';
import { addedSchema } from './schemas/added.js';
import { appSchema } from './schemas/app.js';
import { clusterSchema } from './schemas/cluster.js';
import { configSchema } from './schemas/config.js';
import type { AddedServer, App, Cluster, Definitions, FlightConfig } from './types.js';

/** A definition file's path relative to the folder (with '/'), and its text. */
export interface DefinitionSource {
  file: string;
  text: string;
}

export interface LoadOptions {
  /**
   * Servers recorded by `flight server:add` to treat as joined to every app their record names,
   * whatever their status: the add itself provisions, configures and releases them this way.
   */
  include?: readonly string[];
}

export interface CheckResult {
  /** Present when there are no problems. */
  definitions?: Definitions;
  problems: Problem[];
}

const CONFIG_FILES = ['flight.yml', 'flight.yaml'];
const isYaml = (f: string) => f.endsWith('.yml') || f.endsWith('.yaml');
const baseName = (f: string) => path.posix.basename(f).replace(/\.ya?ml$/, '');

const SCHEMAS = { config: configSchema, cluster: clusterSchema, app: appSchema, added: addedSchema };
type SchemaKind = keyof typeof SCHEMAS;
let ajv: ReturnType<typeof createAjv> | undefined;
const compiled = new Map<SchemaKind, ValidateFunction>();

/**
 * Each schema is compiled on first use: compiling costs every command tens of milliseconds of
 * CPU per schema, and most definitions folders have no file of some kinds (flight.yml, added
 * servers, or no app at all).
 */
function validator(kind: SchemaKind): ValidateFunction {
  let fn = compiled.get(kind);
  if (!fn) {
    // useDefaults: the schemas are the one place where defaults are written down.
    ajv ??= createAjv({ useDefaults: true });
    fn = ajv.compile(SCHEMAS[kind]);
    compiled.set(kind, fn);
  }
  return fn;
}

function getValidators(): Record<SchemaKind, ValidateFunction> {
  return {
    get config() { return validator('config'); },
    get cluster() { return validator('cluster'); },
    get app() { return validator('app'); },
    get added() { return validator('added'); },
  };
}

/** Validates against a schema; returns the data with defaults applied, or undefined. */
function validate(yf: YamlFile, fn: ValidateFunction, problems: Problem[], value: unknown = yf.value): Record<string, unknown> | undefined {
  // A copy, because ajv fills in defaults and checks need to see what the user actually wrote.
  const data = structuredClone(value);
  if (fn(data)) return data as Record<string, unknown>;
  problems.push(...formatSchemaErrors(fn.errors ?? [], yf));
  return undefined;
}

/** The file list of a definitions folder, in report order. */
export async function listDefinitionFiles(dir: string): Promise<string[]> {
  const inFolder = async (sub: string) => {
    try {
      const entries = await fs.readdir(path.join(dir, sub), { withFileTypes: true });
      return entries.filter((e) => e.isFile() && isYaml(e.name)).map((e) => `${sub}/${e.name}`).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  };
  const top = await fs.readdir(dir);
  return [...CONFIG_FILES.filter((f) => top.includes(f)), ...(await inFolder('clusters')), ...(await inFolder('apps'))];
}

export async function loadDefinitions(dir: string, options: LoadOptions = {}): Promise<Definitions> {
  const abs = path.resolve(dir);
  const stat = await fs.stat(abs).catch(() => undefined);
  if (!stat?.isDirectory()) throw invalid(`definitions folder not found: ${dir}`);
  const files = await listDefinitionFiles(abs);
  const sources = await Promise.all(files.map(async (file) => ({ file, text: await fs.readFile(path.join(abs, file), 'utf8') })));
  const result = checkDefinitions(abs, sources, options);
  if (!result.definitions) throw new ProblemsError(`invalid definitions in ${dir}`, result.problems);
  return result.definitions;
}

/** The pure part of loading: sources in, definitions or every problem out. */
export function checkDefinitions(dir: string, sources: DefinitionSource[], options: LoadOptions = {}): CheckResult {
  const v = getValidators();
  const problems: Problem[] = [];
  const parsed = sources.map((s) => parseYamlWithPositions(s.text, s.file));
  for (const yf of parsed) problems.push(...yf.problems);
  const ok = (yf: YamlFile) => yf.problems.length === 0;

  const configFiles = parsed.filter((yf) => CONFIG_FILES.includes(yf.file));
  for (const extra of configFiles.slice(1)) {
    problems.push({ file: extra.file, line: 1, col: 1, path: '', message: `both ${configFiles[0]!.file} and ${extra.file} exist: keep one` });
  }
  let config: Checked<FlightConfig> | undefined;
  let configData: Record<string, unknown> | undefined = {};
  const configFile = configFiles[0];
  if (configFile) {
    // A flight.yml holding only comments is an empty mapping, not an error.
    configData = ok(configFile) ? validate(configFile, v.config, problems, configFile.value ?? {}) : undefined;
    if (configData) config = { yf: configFile, value: toConfig(configData, dir) };
  }
  // Apps inherit keep_releases from flight.yml; when it is broken, go on with the defaults so
  // that the apps' own problems are still reported.
  const configValue = config?.value ?? toConfig(undefined, dir);

  const clusters = new Map<string, Checked<Cluster>>();
  const apps = new Map<string, Checked<App>>();
  const brokenClusters = new Set<string>();
  const brokenApps = new Set<string>();
  const seenNames = new Map<string, string>();
  const addedFiles: YamlFile[] = [];

  for (const yf of parsed) {
    const stateOf = ADDED_FILE.exec(yf.file)?.[1];
    const kind = stateOf !== undefined ? 'servers' : yf.file.startsWith('clusters/') ? 'cluster' : yf.file.startsWith('apps/') ? 'app' : undefined;
    if (!kind) continue;
    const name = stateOf ?? baseName(yf.file);
    const other = seenNames.get(`${kind}/${name}`);
    if (other) {
      problems.push({ file: yf.file, line: 1, col: 1, path: '', message: `both ${other} and ${yf.file} define ${kind} '${name}': keep one` });
      continue;
    }
    seenNames.set(`${kind}/${name}`, yf.file);
    // Servers added by `flight server:add`: checked once every cluster and app is known.
    if (kind === 'servers') {
      addedFiles.push(yf);
      continue;
    }
    const nameProblem = kind === 'app' ? appNameProblem(name) : clusterNameProblem(name);
    if (nameProblem) problems.push({ file: yf.file, line: 1, col: 1, path: '', message: nameProblem });
    const data = ok(yf) ? validate(yf, kind === 'app' ? v.app : v.cluster, problems) : undefined;
    const broken = kind === 'app' ? brokenApps : brokenClusters;
    if (!data || nameProblem) {
      broken.add(name);
      continue;
    }
    if (kind === 'cluster') {
      const c = { yf, value: toCluster(name, yf.file, data, dir) };
      problems.push(...checkCluster(c, configValue));
      clusters.set(name, c);
    } else {
      const a = { yf, value: toApp(name, yf.file, data, configValue, dir) };
      problems.push(...checkApp(a));
      apps.set(name, a);
    }
  }
  const added: Checked<AddedServer[]>[] = [];
  for (const yf of addedFiles) {
    const data = ok(yf) ? validate(yf, v.added, problems) : undefined;
    if (data) added.push({ yf, value: toAdded(ADDED_FILE.exec(yf.file)![1]!, yf.file, data, dir) });
  }
  const addedNames = new Map<string, string[]>();
  for (const s of added.flatMap((f) => f.value)) addedNames.set(s.cluster, [...(addedNames.get(s.cluster) ?? []), s.name]);
  problems.push(...checkAcrossFiles({ config, clusters, apps, brokenClusters, brokenApps, added: addedNames }));
  problems.push(...checkAdded({ files: added, clusters, apps, brokenClusters, brokenApps, config: configValue }));

  if (problems.length > 0) return { problems: sortProblems(problems, sources.map((s) => s.file)) };
  const allAdded = added.flatMap((f) => f.value);
  const clusterValues = new Map([...clusters].map(([k, c]) => [k, c.value]));
  const appValues = new Map([...apps].map(([k, a]) => [k, a.value]));
  mergeAdded(clusterValues, appValues, allAdded, new Set(options.include ?? []));
  return {
    problems: [],
    definitions: { dir, config: configValue, clusters: clusterValues, apps: appValues, added: allAdded },
  };
}
