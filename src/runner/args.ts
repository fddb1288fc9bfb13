/**
 * Module arguments are checked twice: their names at load time (the playbook loader), their
 * values here, after rendering, against the module's JSON schema. Types are coerced because a
 * rendered expression is often a string ("5" for a worker count).
 */
import type { ValidateFunction } from 'ajv';
import { createAjv, describeSchema } from '../json-schema.js';
import type { Module } from '../module-kit/contract.js';

/** createAjv's: the kinds of value (src/kinds.ts) are formats here too. */
const ajv = createAjv({ coerceTypes: true, useDefaults: true, strict: false });
const compiled = new WeakMap<object, ValidateFunction>();

/** Returns an error message, or undefined when the arguments are valid (defaults filled in place). */
export function checkArgs(module: Module<any>, args: Record<string, unknown>): string | undefined {
  let validate = compiled.get(module.schema);
  if (!validate) {
    validate = ajv.compile(module.schema);
    compiled.set(module.schema, validate);
  }
  if (validate(args)) return undefined;
  return (validate.errors ?? [])
    .map((e) => {
      const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '';
      if (e.keyword === 'additionalProperties') return `unknown argument '${(e.params as { additionalProperty: string }).additionalProperty}'`;
      if (e.keyword === 'required') return `missing argument '${(e.params as { missingProperty: string }).missingProperty}'`;
      if (e.keyword === 'enum') return `${where}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
      if (e.keyword === 'format') return `${where || 'arguments'}: must be ${describeSchema(e.parentSchema)}`;
      return `${where || 'arguments'}: ${e.message}`;
    })
    .join('; ');
}
