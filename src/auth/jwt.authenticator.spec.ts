import { KeyObject } from 'node:crypto';
import { Test } from '@nestjs/testing';
import { JwtService } from '@nestjs/jwt';
import { AuthModule } from './auth.module';
import {
  JwtAuthenticator,
  VERIFIED_TOKEN_CACHE_SIZE,
} from './jwt.authenticator';

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

  describe('remembering verified tokens', () => {
    let fresh: JwtAuthenticator;
    let verify: jest.SpyInstance;

    beforeEach(() => {
      fresh = new JwtAuthenticator(jwt);
      verify = jest.spyOn(jwt, 'verify');
    });
    afterEach(() => jest.restoreAllMocks());

    const at = (seconds: number) =>
      jest.spyOn(Date, 'now').mockReturnValue(seconds * 1000);

    it('verifies a token once and answers the same principal again', async () => {
      const token = await sign({ sub: 'u1', scopes: ['a'] }, SECRET);
      const first = await fresh.authenticate(token);
      const second = await fresh.authenticate(token);
      expect(second).toEqual(first);
      expect(second).toMatchObject({ userId: 'u1' });
      expect(verify).toHaveBeenCalledTimes(1);
    });

    it('refuses a remembered token from its exp on, as jsonwebtoken does', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await sign({ sub: 'u1', iat: now, exp: now + 60 }, SECRET);
      at(now + 59);
      await expect(fresh.authenticate(token)).resolves.toMatchObject({
        userId: 'u1',
      });
      at(now + 60);
      await expect(fresh.authenticate(token)).resolves.toBeNull();
      expect(() => new JwtService({ secret: SECRET }).verify(token)).toThrow(
        'jwt expired',
      );
      at(now + 59);
      // Forgotten once expired: checked again from scratch.
      await expect(fresh.authenticate(token)).resolves.not.toBeNull();
      expect(verify).toHaveBeenCalledTimes(2);
    });

    it('refuses a remembered token before its nbf (a clock set back)', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await sign({ sub: 'u1', nbf: now }, SECRET);
      at(now);
      await expect(fresh.authenticate(token)).resolves.not.toBeNull();
      at(now - 1);
      await expect(fresh.authenticate(token)).resolves.toBeNull();
      expect(() => new JwtService({ secret: SECRET }).verify(token)).toThrow(
        'jwt not active',
      );
    });

    it('serves only the exact token text: a changed signature is verified, and refused', async () => {
      const token = await sign({ sub: 'u1' }, SECRET);
      await fresh.authenticate(token);
      const last = token[token.length - 2] === 'A' ? 'B' : 'A';
      const tampered = `${token.slice(0, -2)}${last}${token.slice(-1)}`;
      await expect(fresh.authenticate(tampered)).resolves.toBeNull();
      expect(verify).toHaveBeenCalledTimes(2);
    });

    it(`remembers at most ${VERIFIED_TOKEN_CACHE_SIZE} tokens, forgetting the oldest`, async () => {
      const tokens = await Promise.all(
        Array.from({ length: VERIFIED_TOKEN_CACHE_SIZE + 1 }, (_, i) =>
          sign({ sub: `u${i}` }, SECRET),
        ),
      );
      for (const token of tokens) await fresh.authenticate(token);
      expect(
        (fresh as unknown as { verified: Map<string, unknown> }).verified.size,
      ).toBe(VERIFIED_TOKEN_CACHE_SIZE);
      verify.mockClear();
      await fresh.authenticate(tokens[1]);
      expect(verify).not.toHaveBeenCalled();
      await fresh.authenticate(tokens[0]);
      expect(verify).toHaveBeenCalledTimes(1);
    });

    it('shares claims that nobody can change', async () => {
      const token = await sign({ sub: 'u1', scopes: ['a'] }, SECRET);
      const principal = (await fresh.authenticate(token))!;
      const scopes = principal.claims!.scopes as string[];
      expect(() => scopes.push('*')).toThrow(TypeError);
      expect(() => {
        (principal.claims as Record<string, unknown>).sub = 'root';
      }).toThrow(TypeError);
    });
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
