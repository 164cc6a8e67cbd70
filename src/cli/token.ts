/**
 * Prints a token signed with the app's JWT_SECRET, for the dashboard's token
 * panel and for scripts where `GET /dev/token` does not exist (production,
 * containers). Reads the same environment as the app:
 *
 *   node dist/cli/token.js --sub me --scopes '*' [--ttl 3600]
 *   docker compose exec node-a node dist/cli/token.js --sub me --scopes '*'
 *
 * The token goes to stdout alone, so that `TOKEN=$(...)` works.
 */
import { parseArgs } from 'node:util';
import { JwtService } from '@nestjs/jwt';
import { ConfigError, loadAppConfig } from '../config/app.config';
import {
  InvalidTokenRequestError,
  readTokenRequest,
} from '../dashboard/token-request';

class UsageError extends Error {}

export function mintToken(
  argv: string[],
  env: Record<string, string | undefined>,
): { token: string; note: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      sub: { type: 'string' },
      scopes: { type: 'string' },
      ttl: { type: 'string' },
    },
    strict: true,
  });
  const config = loadAppConfig(env);
  if (config.jwtSecretGenerated)
    throw new UsageError(
      'JWT_SECRET is not set: a token signed with any other secret is refused by the app. Run this with the JWT_SECRET the app uses (inside its container it is set already).',
    );
  if (values.sub === undefined)
    throw new UsageError('--sub is required: the user id the token is for.');
  const { sub, scopes } = readTokenRequest(values.sub, values.scopes ?? '');
  // The app refuses tokens that live longer than its AUTH_MAX_TOKEN_LIFETIME_MS.
  const maxTtl = Math.floor(config.maxTokenLifetimeMs / 1000);
  const ttl = Number(values.ttl ?? Math.min(3600, maxTtl));
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxTtl)
    throw new UsageError(
      `--ttl must be a whole number of seconds from 1 to ${maxTtl}, the app's AUTH_MAX_TOKEN_LIFETIME_MS (got "${values.ttl}").`,
    );
  const token = new JwtService({ secret: config.jwtSecret }).sign(
    { sub, scopes },
    { expiresIn: ttl, algorithm: 'HS256' },
  );
  const listed = scopes.length ? scopes.join(',') : 'none';
  return {
    token,
    note: `Token for "${sub}" with scopes ${listed}, valid for ${ttl} s.`,
  };
}

if (require.main === module) {
  try {
    const { token, note } = mintToken(process.argv.slice(2), process.env);
    process.stdout.write(`${token}\n`);
    process.stderr.write(`${note}\n`);
  } catch (error) {
    const known =
      error instanceof ConfigError ||
      error instanceof InvalidTokenRequestError ||
      error instanceof UsageError ||
      (error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS');
    if (!known) throw error;
    process.stderr.write(
      `${(error as Error).message}\nUsage: node dist/cli/token.js --sub <user> --scopes <scope,scope|*> [--ttl <seconds>]\n`,
    );
    process.exit(2);
  }
}
