/**
 * Set host variables for the rest of the run. The runner merges `data.facts` into the host's
 * variables (like a registered result, so later tasks see them).
 */
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule } from '../src/module-kit/contract.js';

const schema = {
  type: 'object',
  propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
} as const;

/** The arguments, as the schema declares them: any variable names, any values. */
export type SetFactParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export const set_fact = defineModule<SetFactParams>({
  name: 'set_fact',
  schema,
  async run(_ctx, p) {
    return { changed: false, msg: Object.keys(p).join(', '), data: { facts: p } };
  },
});
