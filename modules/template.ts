/**
 * template: render a template locally with the host's variables and make `dest` hold the result.
 * The comparison is by sha256 on the host, so an unchanged file is never downloaded; the write is
 * atomic and may be checked by `validate` (e.g. "nginx -t -c %s") before it replaces the old file.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule } from '../src/module-kit/contract.js';
import { ensureFile, fileReads } from '../src/module-kit/write.js';
import { writtenFileProperties } from '../src/module-kit/schemas.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['src', 'dest'],
  properties: {
    src: { type: 'string', minLength: 1, description: "Template name, looked up in the playbook's templates/, the playbook's folder, then Flight's templates/." },
    ...writtenFileProperties,
  },
} as const;

/** The arguments, as the schema declares them. */
export type TemplateParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export const template = defineModule<TemplateParams>({
  name: 'template',
  schema,
  reads: (params, { diff }) => fileReads(params.dest, diff),
  async run(ctx, params) {
    const content = await ctx.renderTemplate(params.src);
    return ensureFile(ctx, { ...params, path: params.dest, content });
  },
});
