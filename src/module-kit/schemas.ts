/** Argument schemas several modules share. */
export const pathSchema = { type: 'string', pattern: '^/', minLength: 2, description: 'absolute path on the host' } as const;
export const modeSchema = { type: 'string', pattern: '^[0-7]{3,4}$', description: 'octal, quoted: "0644"' } as const;
/** No ':' so a value cannot smuggle a group into chown's owner:group form. */
export const ownerSchema = { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*\\$?$' } as const;

/** Where a whole file goes and how (copy, template): its path, attributes, validator and secrecy. */
export const writtenFileProperties = {
  dest: pathSchema,
  mode: modeSchema,
  owner: ownerSchema,
  group: ownerSchema,
  validate: { type: 'string', pattern: '%s' },
  secret: { type: 'boolean', description: 'Hide the content from diffs and messages (implied for .env files).' },
} as const;
