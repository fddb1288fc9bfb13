/** Schema pieces shared by flight.yml, cluster and app files. */

/** Becomes a host name in the inventory and in host patterns, so no '_' or ':' (pattern syntax). */
export const SERVER_NAME_PATTERN = '^[a-z0-9][a-z0-9-]*$';
/** Becomes a Linux user and group name (useradd's limit is 32) and the `app_<name>` group. */
export const APP_NAME_PATTERN = '^[a-z][a-z0-9_]{0,30}$';
/** Becomes the `cluster_<name>` group. */
export const CLUSTER_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]*$';

export const serverName = {
  type: 'string',
  pattern: SERVER_NAME_PATTERN,
  expected: "a server name of lowercase letters, digits and '-' (like web-1)",
} as const;

/** Strings, because YAML reads 8.10 as the number 8.1. */
export const phpVersion = {
  type: 'string',
  pattern: '^\\d+\\.\\d+$',
  expected: 'a PHP version string like "8.2"',
} as const;

export const nonEmptyString = { type: 'string', minLength: 1 } as const;

export const commandList = {
  type: 'array',
  items: { ...nonEmptyString, expected: 'a command (non-empty string)' },
  default: [],
} as const;

const jump = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  expected: 'a mapping with host, port, user, key',
  properties: {
    host: nonEmptyString,
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    user: nonEmptyString,
    key: { ...nonEmptyString, expected: 'the path of a private key file' },
  },
} as const;

/**
 * SSH connection settings: the defaults in flight.yml, overridden per server. No defaults here:
 * the inventory merges the layers, and a default at this level would hide the outer one.
 */
export const ssh = {
  type: 'object',
  additionalProperties: false,
  properties: {
    user: { ...nonEmptyString, expected: 'a user name' },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    key: { ...nonEmptyString, expected: 'the path of a private key file' },
    known_hosts: { ...nonEmptyString, expected: 'the path of a known_hosts file' },
    host_key_policy: { enum: ['strict', 'accept-new', 'off'] },
    /** `false` cancels, for one server, a jump host set in flight.yml. */
    jump: { anyOf: [{ const: false, expected: 'false (no jump host)' }, jump] },
    connect_timeout: { type: 'number', exclusiveMinimum: 0, expected: 'a number of seconds > 0' },
  },
} as const;
