/**
 * template: render a template locally with the host's variables and make `dest` hold the result.
 * The comparison is by sha256 on the host, so an unchanged file is never downloaded; the write is
 * atomic and may be checked by `validate` (e.g. "nginx -t -c %s") before it replaces the old file.
 */
import { defineModule } from '../src/module.js';
import { ensureFile, fileReads, modeSchema, ownerSchema, pathSchema } from '../src/remote/write.js';

export interface TemplateParams {
  /** Template name, looked up in the playbook's templates/, the playbook's folder, then Flight's templates/. */
  src: string;
  dest: string;
  mode?: string;
  owner?: string;
  group?: string;
  validate?: string;
  /** Hide the content from diffs and messages (implied for .env files). */
  secret?: boolean;
}

export const template = defineModule<TemplateParams>({
  name: 'template',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['src', 'dest'],
    properties: {
      src: { type: 'string', minLength: 1 },
      dest: pathSchema,
      mode: modeSchema,
      owner: ownerSchema,
      group: ownerSchema,
      validate: { type: 'string', pattern: '%s' },
      secret: { type: 'boolean' },
    },
  },
  reads: (params, { diff }) => fileReads(params.dest, diff),
  async run(ctx, params) {
    const content = await ctx.renderTemplate(params.src);
    return ensureFile(ctx, { ...params, path: params.dest, content });
  },
});
