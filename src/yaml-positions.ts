/**
 * YAML parsing that remembers where every value came from, so that schema errors and other
 * checks can name `file:line:col` instead of a JSON pointer the user never wrote.
 *
 *   const y = parseYamlWithPositions(text, 'apps/myapp.yml');
 *   if (y.problems.length) ...                      // YAML syntax errors, positioned
 *   validate(y.value);                               // an ajv validator from createAjv()
 *   const problems = formatSchemaErrors(validate.errors ?? [], y);
 *   y.positionOf(['servers', 0, 'web'])              // { line, col } of that value
 */
import { closest } from './util/closest.js';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { ErrorObject } from 'ajv';
import { describeSchema, yamlTypeOf } from './json-schema.js';
import type { Problem } from './problems.js';

export type YamlPath = readonly (string | number)[];

export interface Position {
  line: number;
  col: number;
}

export interface YamlFile {
  /** The name used in problems, e.g. `apps/myapp.yml`. */
  file: string;
  text: string;
  doc: Document;
  /** The plain data (null for an empty file, undefined when the YAML could not be parsed). */
  value: unknown;
  /** YAML syntax errors (duplicate keys included); when non-empty, `value` is undefined. */
  problems: Problem[];
  /** Where the value at `path` starts; for a missing value, the nearest thing that exists. */
  positionOf(path: YamlPath): Position;
  /** Where the key of the entry at `path` starts (the item itself for list items). */
  keyPositionOf(path: YamlPath): Position;
  /** The text of the scalar at `path` as written (`8.10` stays `8.10`), if it is a scalar. */
  sourceOf(path: YamlPath): string | undefined;
  /** A problem at the value at `path`. */
  problemAt(path: YamlPath, message: string): Problem;
  /** A problem at the key of the entry at `path`. */
  problemAtKey(path: YamlPath, message: string): Problem;
}

/** `servers[0].web.max_workers` */
export function formatPath(path: YamlPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** ajv's instancePath (`/servers/0/web`) as path segments; numeric segments become numbers. */
export function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

interface Located {
  /** The value node (missing when the path does not exist, or the value is empty). */
  value?: Node;
  /** The key node when the last segment was a mapping key. */
  key?: Node;
  /** The deepest node that exists along the path. */
  nearest?: Node;
}

export function parseYamlWithPositions(text: string, file: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };
  const startOf = (n: Node | undefined | null): Position | undefined =>
    n && n.range ? pos(n.range[0]) : undefined;
  const top: Position = startOf(doc.contents as Node | null) ?? { line: 1, col: 1 };

  const deref = (n: unknown): unknown => (isAlias(n) ? n.resolve(doc) : n);

  const locate = (path: YamlPath): Located => {
    let node = doc.contents as unknown;
    let key: Node | undefined;
    let nearest = (node ?? undefined) as Node | undefined;
    for (const seg of path) {
      node = deref(node);
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return { nearest };
        key = pair.key as Node;
        node = pair.value;
        nearest = key;
      } else if (isSeq(node) && Number.isInteger(Number(seg))) {
        node = node.items[Number(seg)];
        key = undefined;
        if (!node) return { nearest };
      } else {
        return { nearest };
      }
      // An empty value (`web:`) parses as a null scalar with no text: point at its key instead.
      if (isScalar(node) && node.value === null && node.range && node.range[0] === node.range[1]) {
        return { key, nearest };
      }
      nearest = node as Node;
    }
    return { value: node as Node, key, nearest };
  };

  const positionOf = (path: YamlPath): Position => {
    const l = locate(path);
    return startOf(l.value) ?? startOf(l.key) ?? startOf(l.nearest) ?? top;
  };
  const keyPositionOf = (path: YamlPath): Position => {
    const l = locate(path);
    return startOf(l.key) ?? startOf(l.value) ?? startOf(l.nearest) ?? top;
  };
  const sourceOf = (path: YamlPath): string | undefined => {
    const l = locate(path);
    const n = deref(l.value);
    if (!isScalar(n) || !n.range) return undefined;
    return text.slice(n.range[0], n.range[1]);
  };

  const problems: Problem[] = doc.errors.map((e) => {
    let offset = e.pos[0];
    let message = e.message;
    // The parser notices a missing closing quote at the end of the text; the user needs to
    // know where the quote was opened.
    if (e.code === 'MISSING_CHAR' && /quote/.test(e.message)) {
      visit(doc, {
        Scalar(_, n) {
          const quoted = n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE';
          if (quoted && n.range && n.range[0] < offset && n.range[1] >= e.pos[0]) {
            offset = n.range[0];
            message = `${e.message} (the quote opened here is never closed)`;
          }
        },
      });
    }
    if (e.code === 'DUPLICATE_KEY') {
      const key = /^("[^"\n]*"|'[^'\n]*'|[^:\n,}]+)/.exec(text.slice(offset))?.[1]?.trim();
      if (key) message = `duplicate key ${key.startsWith('"') || key.startsWith("'") ? key : `'${key}'`} (map keys must be unique)`;
    }
    const p = pos(offset);
    return { file, line: p.line, col: p.col, path: '', message: `YAML syntax error: ${message}` };
  });
  // An alias inside the node it names makes endless data, which no validator survives.
  visit(doc, {
    Alias(_, n, ancestors) {
      const target = n.resolve(doc);
      if (target && ancestors.includes(target as never)) {
        const p = n.range ? pos(n.range[0]) : top;
        problems.push({ file, ...p, path: '', message: `YAML error: alias *${n.source} is inside the node it names` });
      }
    },
  });
  let value: unknown;
  if (problems.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      // Alias bombs and the like: the document is well-formed but cannot become data.
      problems.push({ file, ...top, path: '', message: `YAML error: ${(e as Error).message}` });
    }
  }

  return {
    file,
    text,
    doc,
    value,
    problems,
    positionOf,
    keyPositionOf,
    sourceOf,
    problemAt: (path, message) => ({ file, ...positionOf(path), path: formatPath(path), message }),
    problemAtKey: (path, message) => ({ file, ...keyPositionOf(path), path: formatPath(path), message }),
  };
}

/** Keywords whose failure only means "this alternative did not apply". */
const SHAPE_KEYWORDS = new Set(['type', 'const', 'enum']);

/**
 * Turns ajv errors (from a validator built by createAjv, which keeps schemas and data on each
 * error) into positioned problems with plain-words messages:
 *
 *   servers[0].web.max_workers: must be integer >= 1
 *   unknown key 'domian' (expected one of: repo, php, domain, ...); did you mean 'domain'?
 *   php[0]: must be a string, not the number 8.2: quote it: "8.2"
 */
export function formatSchemaErrors(errors: readonly ErrorObject[], y: YamlFile): Problem[] {
  return collapseAlternatives(errors)
    .filter((e) => e.keyword !== 'if' && e.keyword !== 'propertyNames')
    .map((e) => problemOf(e, y));
}

/**
 * For `anyOf`/`oneOf`, ajv reports every alternative's failure. When exactly one alternative had
 * the right shape (say, the mapping form of `jump`), its errors are the useful ones; otherwise
 * the user gets one "must be X or Y".
 */
function collapseAlternatives(errors: readonly ErrorObject[]): ErrorObject[] {
  let list = [...errors];
  const groups = list
    .filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
    .sort((a, b) => b.schemaPath.length - a.schemaPath.length);
  for (const group of groups) {
    const prefix = `${group.schemaPath}/`;
    const inside = list.filter((e) => e.schemaPath.startsWith(prefix));
    const byBranch = new Map<string, ErrorObject[]>();
    for (const e of inside) {
      const branch = e.schemaPath.slice(prefix.length).split('/')[0]!;
      byBranch.set(branch, [...(byBranch.get(branch) ?? []), e]);
    }
    const fitting = [...byBranch.values()].filter(
      (errs) => !errs.every((e) => e.instancePath === group.instancePath && SHAPE_KEYWORDS.has(e.keyword)),
    );
    const replacement = fitting.length === 1 && group.keyword === 'anyOf' ? fitting[0]! : [group];
    const at = list.indexOf(group);
    list = [...list.slice(0, at).filter((e) => !inside.includes(e)), ...replacement, ...list.slice(at + 1).filter((e) => !inside.includes(e))];
  }
  return list;
}

function problemOf(e: ErrorObject, y: YamlFile): Problem {
  const path = pointerToPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  const here = (message: string): Problem => y.problemAt(path, message);
  const atKey = (key: string, message: string): Problem => ({
    ...y.problemAtKey([...path, key], message),
    path: formatPath(path),
  });
  // Without `verbose` (an ajv not made by createAjv) errors carry no schema: keep ajv's words.
  if (!e.parentSchema && e.keyword !== 'additionalProperties' && e.keyword !== 'required') {
    return here(e.message ?? 'is not valid');
  }
  if (e.propertyName !== undefined) {
    return atKey(e.propertyName, `key '${e.propertyName}' must be ${describeSchema(e.parentSchema)}`);
  }
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((e.parentSchema?.properties as object | undefined) ?? {});
      const expected = known.length ? ` (expected one of: ${known.join(', ')})` : e.parentSchema ? ' (no keys are allowed here)' : '';
      const guess = closest(key, known);
      return atKey(key, `unknown key '${key}'${expected}${guess ? `; did you mean '${guess}'?` : ''}`);
    }
    case 'required':
      return here(`missing required key '${String(params.missingProperty)}'`);
    case 'type': {
      const data = e.data;
      const wantsString = e.schema === 'string' || (Array.isArray(e.schema) && e.schema.includes('string'));
      if (wantsString && (typeof data === 'number' || typeof data === 'boolean')) {
        // YAML reads 8.2 and 8.10 as numbers (and 8.10 as 8.1): say so, and how to fix it.
        const written = y.sourceOf(path) ?? String(data);
        return here(`must be a string, not the ${typeof data} ${String(data)}: quote it: "${written}"`);
      }
      if (path.length === 0 && (data === null || data === undefined)) {
        const required = (e.parentSchema?.required as string[] | undefined) ?? [];
        return here(`the file is empty: expected ${describeSchema(e.parentSchema)}${required.length ? ` with ${required.join(', ')}` : ''}`);
      }
      // A scalar is shown as written (`got "22"`, `got 2.5`); a collection by its kind.
      const wantsCollection = e.schema === 'object' || e.schema === 'array' || (Array.isArray(e.schema) && !e.schema.some((t) => t !== 'object' && t !== 'array' && t !== 'null'));
      const scalar = data !== null && typeof data !== 'object';
      const got = scalar && !wantsCollection ? (y.sourceOf(path) ?? JSON.stringify(data)) : yamlTypeOf(data);
      return here(`must be ${describeSchema(e.parentSchema)}, got ${got}`);
    }
    case 'anyOf':
    case 'oneOf':
      return here(`must be ${describeSchema(e.parentSchema)}`);
    case 'not':
      return here(`must not be ${describeSchema(e.schema)}`);
    case 'minItems':
      return here(Number(params.limit) === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} items`);
    case 'maxItems':
      return here(`must have at most ${String(params.limit)} items`);
    case 'minProperties':
      return here(Number(params.limit) === 1 ? 'must not be empty' : `must have at least ${String(params.limit)} keys`);
    case 'maxProperties':
      return here(`must have at most ${String(params.limit)} keys`);
    case 'uniqueItems':
    {
      const [first, again] = [Number(params.i), Number(params.j)].sort((a, b) => a - b);
      return y.problemAt([...path, again!], `repeats item ${first} of ${formatPath(path) || 'the list'}`);
    }
    case 'dependentRequired':
    case 'dependencies':
      return here(`'${String(params.property)}' also needs '${String(params.missingProperty)}'`);
    default:
      return here(`must be ${describeSchema(e.parentSchema)}`);
  }
}
