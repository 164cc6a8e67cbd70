import { refreshDelay, tokenExpiry } from './token-expiry';

const jwt = (payload: unknown) =>
  `h.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.s`;

describe('tokenExpiry', () => {
  describe('when the token is a JWT with exp', () => {
    it('reads exp as milliseconds', () => {
      expect(tokenExpiry(jwt({ sub: 'ü', exp: 1_700_000_000 }))).toBe(
        1_700_000_000_000,
      );
    });
  });

  describe('when the token is opaque or has no exp', () => {
    it.each([
      ['an opaque string', 'abc'],
      ['a JWT without exp', jwt({ sub: 'a' })],
      ['a JWT with a string exp', jwt({ exp: '1' })],
      ['a payload that is not JSON', 'a.b.c'],
    ])('returns null for %s', (_label, token) => {
      expect(tokenExpiry(token)).toBeNull();
    });
  });
});

describe('refreshDelay', () => {
  it('refreshes a fifth of the lifetime early, between one second and a minute', () => {
    expect(refreshDelay(10_000, 0)).toBe(8_000);
    expect(refreshDelay(2_000, 0)).toBe(1_000);
    expect(refreshDelay(3_600_000, 0)).toBe(3_540_000);
    expect(refreshDelay(500, 0)).toBe(0);
  });
});
