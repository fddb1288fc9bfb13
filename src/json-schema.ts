/**
 * The one way Flight builds ajv validators, so every schema (definitions, inventory files,
 * playbooks, module arguments) reports errors the same way, and the words used to tell a user
 * what a schema expects.
 */
import { Ajv, type Options } from 'ajv';
import { KINDS } from './kinds.js';

/** Schema keyword (metadata only) holding the words for what a value must be, e.g. `a PHP version like "8.2"`. */
export const EXPECTED_KEYWORD = 'expected';

/**
 * allErrors: report every problem at once. verbose: errors carry their schema and data, which
 * the error formatter needs to say what was expected and to list the known keys.
 */
export function createAjv(options: Options = {}): Ajv {
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, ...options });
  ajv.addVocabulary([EXPECTED_KEYWORD]);
  for (const k of KINDS.values()) ajv.addFormat(k.name, { type: 'string', validate: k.test });
  return ajv;
}

type Schema = Record<string, unknown>;

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'string',
  integer: 'integer',
  number: 'number',
  boolean: 'true or false',
  null: 'null',
};

/** Words for what a schema accepts: `integer >= 1`, `one of: strict, accept-new, off`, `mapping`. */
export function describeSchema(schema: unknown): string {
  if (schema === true) return 'anything';
  if (schema === false) return 'nothing (not allowed)';
  if (!schema || typeof schema !== 'object') return 'valid';
  const s = schema as Schema;
  if (typeof s[EXPECTED_KEYWORD] === 'string') return s[EXPECTED_KEYWORD] as string;
  const alternatives = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(alternatives)) return alternatives.map(describeSchema).join(' or ');
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return `one of: ${s.enum.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ')}`;
  const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];
  if (types.length === 0) return 'valid';
  return types.map((t) => describeType(t, s)).join(' or ');
}

function describeType(type: string, s: Schema): string {
  const word = TYPE_WORDS[type] ?? type;
  if (type === 'integer' || type === 'number') {
    const lo = typeof s.minimum === 'number' ? `>= ${s.minimum}` : typeof s.exclusiveMinimum === 'number' ? `> ${s.exclusiveMinimum}` : '';
    const hi = typeof s.maximum === 'number' ? `<= ${s.maximum}` : typeof s.exclusiveMaximum === 'number' ? `< ${s.exclusiveMaximum}` : '';
    if (typeof s.minimum === 'number' && typeof s.maximum === 'number') return `${word} between ${s.minimum} and ${s.maximum}`;
    return [word, lo, hi].filter(Boolean).join(' ');
  }
  if (type === 'string') {
    if (typeof s.pattern === 'string') return `string matching ${s.pattern}`;
    if (s.minLength === 1) return 'non-empty string';
    return word;
  }
  if (type === 'array') {
    const n = typeof s.minItems === 'number' ? s.minItems : 0;
    return n === 1 ? 'a non-empty list' : n > 1 ? `a list of at least ${n} items` : word;
  }
  return word;
}

/** How a YAML user would name the type of a value they wrote. */
export function yamlTypeOf(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return Number.isInteger(value) ? 'an integer' : 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}
