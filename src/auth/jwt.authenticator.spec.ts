import { KeyObject } from 'node:crypto';
import { Test } from '@nestjs/testing';
import { JwtService } from '@nestjs/jwt';
import { AuthModule } from './auth.module';
import { JwtAuthenticator } from './jwt.authenticator';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

describe('JwtAuthenticator', () => {
  let authenticator: JwtAuthenticator;
  let jwt: JwtService;

  beforeAll(async () => {
    const module = await Test.createTestingModule({
      imports: [AuthModule.register(SECRET)],
    }).compile();
    authenticator = module.get(JwtAuthenticator);
    jwt = module.get(JwtService);
  });

  it('verifies with a key object built once, not the secret string', () => {
    // A string secret makes jsonwebtoken try createPublicKey on every verify.
    const options = (jwt as unknown as { options: { secret?: unknown } })
      .options;
    expect(options.secret).toBeInstanceOf(KeyObject);
    expect((options.secret as KeyObject).type).toBe('secret');
  });

  it('accepts an HS256 token of the secret and reads its lifetime', async () => {
    const iat = Math.floor(Date.now() / 1000) - 10;
    const token = await new JwtService({ secret: SECRET }).signAsync({
      sub: 'u1',
      scopes: ['a'],
      iat,
      exp: iat + 3600,
    });
    await expect(authenticator.authenticate(token)).resolves.toEqual({
      userId: 'u1',
      claims: expect.objectContaining({ sub: 'u1', scopes: ['a'] }),
      expiresAt: (iat + 3600) * 1000,
      issuedAt: iat * 1000,
    });
  });

  it('signs tokens that the same module verifies', async () => {
    const token = await jwt.signAsync({ sub: 'u2' });
    await expect(authenticator.authenticate(token)).resolves.toMatchObject({
      userId: 'u2',
    });
  });

  it.each([
    ['another secret', () => sign({ sub: 'u1' }, 'not-the-secret')],
    ['an expired token', () => sign({ sub: 'u1', exp: 1_000 }, SECRET)],
    ['HS512', () => sign({ sub: 'u1' }, SECRET, 'HS512')],
    ['alg none', () => unsigned({ sub: 'u1' })],
    ['no subject', () => sign({ scopes: ['a'] }, SECRET)],
    ['an empty subject', () => sign({ sub: '' }, SECRET)],
    ['garbage', () => Promise.resolve('not.a.token')],
  ])('refuses %s', async (_name, make) => {
    await expect(authenticator.authenticate(await make())).resolves.toBeNull();
  });
});

function sign(
  payload: Record<string, unknown>,
  secret: string,
  algorithm: 'HS256' | 'HS512' = 'HS256',
): Promise<string> {
  return new JwtService({ secret }).signAsync(payload, { algorithm });
}

function unsigned(payload: Record<string, unknown>): Promise<string> {
  const part = (value: object) =>
    Buffer.from(JSON.stringify(value)).toString('base64url');
  return Promise.resolve(
    `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`,
  );
}
