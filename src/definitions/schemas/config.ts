/** flight.yml: defaults for every cluster and app, and settings of the deploy server. */
import { APP_NAME_PATTERN, ssh } from './common.js';

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ssh: { ...ssh, default: {} },
    keep_releases: { type: 'integer', minimum: 2, default: 5 },
    forks: { type: 'integer', minimum: 1, default: 25 },
    serve: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        tokens: {
          type: 'object',
          default: {},
          propertyNames: { type: 'string', pattern: APP_NAME_PATTERN, expected: 'an app name' },
          additionalProperties: {
            type: 'string',
            pattern: '^[0-9a-f]{64}$',
            expected: 'the sha256 of the token, in hex (64 characters), never the token itself',
          },
        },
      },
    },
  },
} as const;
