/**
 * copy: make `dest` hold a local file's bytes (`src`, relative to the playbook) or a given string
 * (`content`). Compared by sha256 on the host, written atomically, optionally validated.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule } from '../src/module-kit/contract.js';
import { ensureFile, fileReads, givenContent } from '../src/module-kit/write.js';
import { writtenFileProperties } from '../src/module-kit/schemas.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['dest'],
  properties: {
    src: { type: 'string', minLength: 1 },
    content: { type: 'string' },
    ...writtenFileProperties,
  },
} as const;

/** The arguments, as the schema declares them. */
export type CopyParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export const copy = defineModule<CopyParams>({
  name: 'copy',
  schema,
  secretParams: ['content'],
  reads: (params, { diff }) => fileReads(params.dest, diff),
  async run(ctx, params) {
    // Checked here rather than with oneOf: strict schemas reject `required` outside `properties`.
    if ((params.src === undefined) === (params.content === undefined)) {
      return { changed: false, failed: true, msg: 'copy needs exactly one of src or content' };
    }
    // One of the two is given (checked above).
    const content = (await givenContent(ctx, params))!;
    if (!Buffer.isBuffer(content) && typeof content !== 'string') return { changed: false, failed: true, msg: content.error };
    const { src: _src, content: _content, ...rest } = params;
    return ensureFile(ctx, { ...rest, path: params.dest, content });
  },
});
