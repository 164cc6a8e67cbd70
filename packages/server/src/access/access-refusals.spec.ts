import { Logger } from '@nestjs/common';
import { AccessService } from './access.service';
import { Authenticator } from './authenticator.port';
import { Principal } from './principal';
import { ScopeResolver } from './scope-resolver.port';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

class FakeAuthenticator implements Authenticator {
  answer: (token: string) => Promise<Principal | null> = async (token) => ({
    userId: token,
  });
  authenticate(token: string): Promise<Principal | null> {
    return this.answer(token);
  }
}

class FakeScopeResolver implements ScopeResolver {
  answer: (principal: Principal) => Promise<readonly string[] | null> =
    async () => ['*'];
  resolve(principal: Principal): Promise<readonly string[] | null> {
    return this.answer(principal);
  }
}

describe('AccessService refusals and outages', () => {
  let authenticator: FakeAuthenticator;
  let resolver: FakeScopeResolver;
  let access: AccessService;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    authenticator = new FakeAuthenticator();
    resolver = new FakeScopeResolver();
    access = new AccessService(authenticator, resolver);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation();
  });
  afterEach(() => {
    warn.mockRestore();
    jest.useRealTimers();
  });

  describe('when the authenticator or the scope resolver throws', () => {
    it('grants nothing and says unavailable, with one warning naming the cause', async () => {
      authenticator.answer = () =>
        Promise.reject(new Error('session store down'));
      expect(await access.authorize('ann')).toEqual({
        granted: false,
        reason: 'unavailable',
      });
      expect(await access.authenticate('ann')).toBeNull();
      authenticator.answer = async (token) => ({ userId: token });
      resolver.answer = () => Promise.reject(new Error('scope database down'));
      expect(await access.authorize('ann')).toEqual({
        granted: false,
        reason: 'unavailable',
      });
      expect(await access.resolveScopes({ userId: 'ann' })).toBeNull();
      const messages = warn.mock.calls.map(([m]) => String(m));
      expect(messages).toEqual([
        expect.stringContaining('session store down'),
        expect.stringContaining('session store down'),
        expect.stringContaining('scope database down'),
        expect.stringContaining('scope database down'),
      ]);
    });
  });

  describe('when the authenticator or the scope resolver refuses', () => {
    it('says invalid_token and no_access, as before', async () => {
      authenticator.answer = async () => null;
      expect(await access.authorize('ann')).toEqual({
        granted: false,
        reason: 'invalid_token',
      });
      authenticator.answer = async (token) => ({ userId: token });
      resolver.answer = async () => null;
      expect(await access.authorize('ann')).toEqual({
        granted: false,
        reason: 'no_access',
      });
      resolver.answer = async () => [' padded '];
      expect(await access.authorize('ann')).toEqual({
        granted: false,
        reason: 'no_access',
      });
    });
  });

  describe('when an accepted token is valid longer than maxTokenLifetimeMs', () => {
    const eightDays = (now: number): Principal => ({
      userId: 'ann',
      issuedAt: now,
      expiresAt: now + 8 * DAY,
    });

    it('refuses it with a warning naming the cap, the lifetime and the setting to raise', async () => {
      const now = Date.now();
      authenticator.answer = async () => eightDays(now);
      expect(await access.authorize('t')).toEqual({
        granted: false,
        reason: 'invalid_token',
      });
      expect(warn).toHaveBeenCalledTimes(1);
      const message = String(warn.mock.calls[0][0]);
      expect(message).toContain('"ann"');
      expect(message).toMatch(/valid for 8 d/);
      expect(message).toContain('24 h');
      expect(message).toContain('maxTokenLifetimeMs');
      expect(message).toContain('AUTH_MAX_TOKEN_LIFETIME_MS');
    });

    it('warns at most once a minute, then counts the ones it did not report', async () => {
      jest.useFakeTimers({ now: 1_000_000_000_000 });
      authenticator.answer = async () => eightDays(Date.now());
      for (let i = 0; i < 50; i++) await access.authorize('t');
      expect(warn).toHaveBeenCalledTimes(1);
      jest.setSystemTime(Date.now() + 61_000);
      await access.authorize('t');
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[1][0])).toContain(
        '49 more token(s) were refused for the same reason',
      );
    });

    it('stays silent for tokens within the cap and for expired ones', async () => {
      const now = Date.now();
      authenticator.answer = async () => ({
        userId: 'ann',
        issuedAt: now,
        expiresAt: now + HOUR,
      });
      expect(await access.authorize('t')).toMatchObject({ granted: true });
      authenticator.answer = async () => ({
        userId: 'ann',
        issuedAt: now - 2 * HOUR,
        expiresAt: now - HOUR,
      });
      expect(await access.authorize('t')).toMatchObject({ granted: false });
      expect(warn).not.toHaveBeenCalled();
    });
  });
});
