/**
 * Set host variables for the rest of the run. The runner merges `data.facts` into the host's
 * variables (like a registered result, so later tasks see them).
 */
import { defineModule } from '../src/module.js';

export const set_fact = defineModule<Record<string, unknown>>({
  name: 'set_fact',
  schema: {
    type: 'object',
    propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
  },
  async run(_ctx, p) {
    return { changed: false, msg: Object.keys(p).join(', '), data: { facts: p } };
  },
});
