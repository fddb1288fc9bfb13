/** Fail the host with a message: for guards such as `fail: msg=... when: ...`. */
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule } from '../src/module-kit/contract.js';

const schema = {
  type: 'object',
  properties: { msg: { type: 'string' } },
  required: ['msg'],
  additionalProperties: false,
} as const;

/** The arguments, as the schema declares them. */
export type FailParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export const fail = defineModule<FailParams>({
  name: 'fail',
  freeForm: 'msg',
  schema,
  async run(_ctx, p) {
    return { changed: false, failed: true, msg: p.msg };
  },
});
