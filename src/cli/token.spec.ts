import { mintToken } from './token';

const env = { JWT_SECRET: 'a-secret-of-sixteen-chars' };

describe('the token command', () => {
  it('mints a token valid for --ttl seconds', () => {
    const { token, note } = mintToken(
      ['--sub', 'me', '--scopes', '*', '--ttl', '600'],
      env,
    );
    const claims = JSON.parse(
      Buffer.from(token.split('.')[1], 'base64url').toString(),
    ) as { exp: number; iat: number };
    expect(claims.exp - claims.iat).toBe(600);
    expect(note).toMatch(/valid for 600 s/);
  });

  it('refuses a --ttl longer than the app accepts, naming the setting', () => {
    expect(() =>
      mintToken(['--sub', 'me', '--ttl', '7200'], {
        ...env,
        AUTH_MAX_TOKEN_LIFETIME_MS: '3600000',
      }),
    ).toThrow(/from 1 to 3600, the app's AUTH_MAX_TOKEN_LIFETIME_MS/);
  });
});
