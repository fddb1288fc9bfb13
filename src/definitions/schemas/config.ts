/** flight.yml: defaults for every cluster and app, and settings of the deploy server. */
import { kind } from '../../kinds.js';
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
        /**
         * Proxies in front of `flight serve` (a TLS terminator): from these addresses only,
         * X-Forwarded-For names the client, for the backoff and the access log.
         */
        trusted_proxies: { type: 'array', default: [], items: kind('ip', 'the address of a proxy in front of flight serve') },
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
        /**
         * GitHub push webhooks, per app. The secret itself never lives in the definitions (they
         * are usually a git repo): it is read from an environment variable or a file on the
         * deploy box. Exactly one of secret_env / secret_file (checked by `flight serve`).
         */
        github: {
          type: 'object',
          default: {},
          propertyNames: { type: 'string', pattern: APP_NAME_PATTERN, expected: 'an app name' },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            expected: 'a mapping with secret_env or secret_file, and optionally branch and repository',
            properties: {
              secret_env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$', expected: 'the name of an environment variable holding the webhook secret' },
              secret_file: kind('local-path', 'the path of a file holding the webhook secret'),
              branch: kind('branch', "the branch whose pushes deploy (default: the app's branch, else main): a git branch name"),
              repository: { type: 'string', pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', expected: 'the GitHub repository as owner/name' },
            },
          },
        },
      },
    },
  },
} as const;
