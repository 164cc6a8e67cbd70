import {
  BadRequestException,
  Controller,
  Get,
  Header,
  Inject,
  Query,
  UseGuards,
} from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { ResolvedDashboardOptions } from './dashboard.options';
import { DASHBOARD_OPTIONS } from './dashboard.tokens';
import { LocalRequestGuard } from './local-request.guard';
import {
  InvalidTokenRequestError,
  readTokenRequest,
  TokenRequest,
} from './token-request';

export interface DevTokenResponse {
  readonly token: string;
  readonly sub: string;
  readonly scopes: readonly string[];
  /** Seconds until the token expires. */
  readonly expiresIn: number;
}

/**
 * `GET /dev/token?sub=<user>&scopes=a,b`: a token signed with the app's own
 * secret, so that the dashboard and scripts work without an identity
 * provider. Registered only with `devTools: true`; without it the route does
 * not exist (404). Even then it answers only local requests (`LocalRequestGuard`).
 */
@Controller('dev')
@UseGuards(LocalRequestGuard)
export class DevTokenController {
  constructor(
    private readonly jwt: JwtService,
    @Inject(DASHBOARD_OPTIONS)
    private readonly options: ResolvedDashboardOptions,
  ) {}

  @Get('token')
  @Header('Cache-Control', 'no-store')
  token(
    @Query('sub') subParam: unknown,
    @Query('scopes') scopesParam: unknown,
  ): DevTokenResponse {
    let request: TokenRequest;
    try {
      request = readTokenRequest(subParam, scopesParam);
    } catch (error) {
      if (error instanceof InvalidTokenRequestError)
        throw new BadRequestException(error.message);
      throw error;
    }
    const { sub, scopes } = request;
    const expiresIn = this.options.devTokenTtlSeconds;
    const token = this.jwt.sign({ sub, scopes }, { expiresIn });
    return { token, sub, scopes, expiresIn };
  }
}
