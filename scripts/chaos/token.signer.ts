import { JwtService } from '@nestjs/jwt';

/** The HS256 tokens the reference app accepts: `sub` is the user, `scopes` the granted scopes. */
export class TokenSigner {
  private readonly jwt: JwtService;

  constructor(
    readonly secret: string,
    /** Lifetime of every token; within the app's longest allowed lifetime. */
    private readonly lifetimeSeconds = 6 * 3600,
  ) {
    this.jwt = new JwtService({ secret });
  }

  sign(userId: string, scopes: readonly string[]): string {
    return this.jwt.sign(
      { sub: userId, scopes: [...scopes] },
      { expiresIn: this.lifetimeSeconds, algorithm: 'HS256' },
    );
  }
}
