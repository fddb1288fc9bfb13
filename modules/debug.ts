/** Print a message (rendered with the host's variables). Never changes anything. */
import { defineModule } from '../src/module.js';

export const debug = defineModule<{ msg?: unknown; var?: unknown }>({
  name: 'debug',
  freeForm: 'msg',
  schema: {
    type: 'object',
    properties: { msg: {}, var: {} },
    additionalProperties: false,
  },
  async run(_ctx, p) {
    const shown = p.msg ?? p.var ?? 'hello from Flight';
    return { changed: false, msg: typeof shown === 'string' ? shown : JSON.stringify(shown), data: { msg: shown } };
  },
});
