import {
  ExecutionContext,
  HttpException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AccessRefusal, Authorization } from './access';
import { AccessService } from './access.service';
import { BearerAuthGuard } from './bearer-auth.guard';

/** A reply with Fastify's shape: `header()`, and no Express `setHeader()`. */
class FastifyLikeReply {
  readonly headers: Record<string, string> = {};
  header(name: string, value: string): this {
    this.headers[name.toLowerCase()] = value;
    return this;
  }
}

function contextFor(reply: object): ExecutionContext {
  const request = {
    headers: { authorization: 'Bearer some.token.here' },
    params: {},
  };
  return {
    switchToHttp: () => ({
      getRequest: () => request,
      getResponse: () => reply,
    }),
    getHandler: () => () => undefined,
    getClass: () => class {},
  } as unknown as ExecutionContext;
}

function guardAnswering(reason: AccessRefusal): BearerAuthGuard {
  const access = {
    authorize: async (): Promise<Authorization> => ({
      granted: false,
      reason,
    }),
  } as unknown as AccessService;
  return new BearerAuthGuard(new Reflector(), access);
}

describe('BearerAuthGuard', () => {
  describe('when access cannot be checked (unavailable)', () => {
    it('answers 503 and sets Retry-After through header(), which Fastify replies have too', async () => {
      const reply = new FastifyLikeReply();
      await expect(
        guardAnswering('unavailable').canActivate(contextFor(reply)),
      ).rejects.toBeInstanceOf(ServiceUnavailableException);
      expect(reply.headers['retry-after']).toBe('1');
    });
  });

  describe('when the token is refused', () => {
    it.each([
      ['invalid_token', 401],
      ['revoked', 401],
      ['no_access', 403],
    ] as const)('answers %s with %d', async (reason, status) => {
      const reply = new FastifyLikeReply();
      const error: unknown = await guardAnswering(reason)
        .canActivate(contextFor(reply))
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HttpException);
      expect((error as HttpException).getStatus()).toBe(status);
      expect(reply.headers['retry-after']).toBeUndefined();
    });
  });
});
