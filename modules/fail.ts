/** Fail the host with a message: for guards such as `fail: msg=... when: ...`. */
import { defineModule } from '../src/module.js';

export const fail = defineModule<{ msg: string }>({
  name: 'fail',
  freeForm: 'msg',
  schema: {
    type: 'object',
    properties: { msg: { type: 'string' } },
    required: ['msg'],
    additionalProperties: false,
  },
  async run(_ctx, p) {
    return { changed: false, failed: true, msg: p.msg };
  },
});
