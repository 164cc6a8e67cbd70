import { createSecretKey } from 'node:crypto';
import { DynamicModule, Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AccessOverrides } from './access-overrides';
import { ClaimsScopeResolver } from './claims.scope-resolver';
import { JwtAuthenticator } from './jwt.authenticator';

/** The reference app's authentication: HS256 JWTs plus in-process permission overrides. */
@Module({})
export class AuthModule {
  static register(secret: string): DynamicModule {
    return {
      module: AuthModule,
      global: true,
      imports: [
        JwtModule.register({
          // A key object, built once: a string secret is re-parsed on every verify.
          secret: createSecretKey(Buffer.from(secret, 'utf8')),
          signOptions: { algorithm: 'HS256' },
          verifyOptions: { algorithms: ['HS256'] },
        }),
      ],
      providers: [AccessOverrides, JwtAuthenticator, ClaimsScopeResolver],
      exports: [
        AccessOverrides,
        JwtAuthenticator,
        ClaimsScopeResolver,
        JwtModule,
      ],
    };
  }
}
