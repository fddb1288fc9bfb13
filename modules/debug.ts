/** Print a message (rendered with the host's variables). Never changes anything. */
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule } from '../src/module-kit/contract.js';

const schema = {
  type: 'object',
  properties: { msg: {}, var: {} },
  additionalProperties: false,
} as const;

/** The arguments, as the schema declares them. */
export type DebugParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export const debug = defineModule<DebugParams>({
  name: 'debug',
  freeForm: 'msg',
  schema,
  async run(_ctx, p) {
    const shown = p.msg ?? p.var ?? 'hello from Flight';
    return { changed: false, msg: typeof shown === 'string' ? shown : JSON.stringify(shown), data: { msg: shown } };
  },
});
