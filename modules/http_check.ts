/**
 * http_check: ask a web server for a page, from the server itself (curl through its own nginx),
 * until it answers the expected status or the time runs out. Used as the release's health
 * check: the page is asked for with the app's domain as Host, as a visitor would.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { defineModule } from '../src/module-kit/contract.js';
import { runAction } from '../src/module-kit/operation.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', pattern: '^https?://' },
    host_header: { type: 'string', pattern: '^[A-Za-z0-9.-]+(:[0-9]+)?$' },
    status: { type: 'integer', minimum: 100, maximum: 599, default: 200 },
    timeout: { type: 'number', minimum: 0, default: 10, description: 'Seconds to keep trying.' },
  },
} as const;

/** The arguments, as the schema declares them. */
export type HttpCheckParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

// $1 url $2 host header $3 expected status $4 deadline seconds. Prints the last status seen.
const CHECK = `
url=$1 host=$2 want=$3 deadline=$(( $(date +%s) + $4 ))
while :; do
  got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \${host:+-H "Host: $host"} "$url" 2>/dev/null)
  [ "$got" = "$want" ] && { echo "$got"; exit 0; }
  [ "$(date +%s)" -ge "$deadline" ] && { echo "\${got:-000}"; exit 1; }
  sleep 0.5
done
`;

const target = (p: HttpCheckParams): string => `${p.url}${p.host_header ? ` (Host: ${p.host_header})` : ''}`;

export const http_check = defineModule<HttpCheckParams>({
  name: 'http_check',
  schema,
  run: runAction<HttpCheckParams>({
    would: (p) => `check ${target(p)}`,
    probe: true,
    async act(ctx, p) {
      const want = p.status ?? 200;
      const shown = target(p);
      const res = await ctx.exec(script(CHECK, p.url, p.host_header ?? '', String(want), String(p.timeout ?? 10)));
      const got = res.stdout.trim().split('\n').pop() ?? '';
      if (res.code === 0) return { changed: false, msg: `${shown}: ${got}`, data: { status: Number(got) } };
      return { changed: false, failed: true, msg: `${shown} answered ${got === '000' ? 'nothing' : got}, expected ${want}`, data: { status: Number(got) } };
    },
  }),
});
