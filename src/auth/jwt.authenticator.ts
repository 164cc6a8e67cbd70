import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { Authenticator, Principal } from '@streamgate/server';

/** HS256 JWTs: `sub` is the user id, `scopes` (string array) the granted scopes, `exp` and `iat` the lifetime. */
@Injectable()
export class JwtAuthenticator implements Authenticator {
  constructor(private readonly jwt: JwtService) {}

  async authenticate(token: string): Promise<Principal | null> {
    try {
      const claims = await this.jwt.verifyAsync<Record<string, unknown>>(
        token,
        { algorithms: ['HS256'] },
      );
      if (typeof claims.sub !== 'string' || claims.sub === '') return null;
      return {
        userId: claims.sub,
        claims,
        ...(typeof claims.exp === 'number' && { expiresAt: claims.exp * 1000 }),
        ...(typeof claims.iat === 'number' && { issuedAt: claims.iat * 1000 }),
      };
    } catch {
      return null;
    }
  }
}
