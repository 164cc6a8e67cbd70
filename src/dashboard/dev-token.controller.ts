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
import { isValidScope } from '@streamgate/server';
import { DashboardMessages } from './dashboard.messages';
import { ResolvedDashboardOptions } from './dashboard.options';
import { DASHBOARD_OPTIONS } from './dashboard.tokens';
import { LocalRequestGuard } from './local-request.guard';

const SUB_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;
const MAX_SCOPES = 32;

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
    const sub = subParam === undefined ? 'developer' : subParam;
    if (typeof sub !== 'string' || !SUB_PATTERN.test(sub)) {
      throw new BadRequestException(DashboardMessages.invalidSub(sub));
    }
    const scopes = parseScopes(scopesParam);
    const expiresIn = this.options.devTokenTtlSeconds;
    const token = this.jwt.sign({ sub, scopes }, { expiresIn });
    return { token, sub, scopes, expiresIn };
  }
}

function parseScopes(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  const parts = (Array.isArray(value) ? value : [value]).flatMap((part) =>
    typeof part === 'string' ? part.split(',') : [part],
  );
  const scopes = [...new Set(parts)];
  if (
    scopes.length > MAX_SCOPES ||
    !scopes.every((s) => isValidScope(s) && !/\s/.test(s))
  ) {
    throw new BadRequestException(DashboardMessages.invalidScopes(value));
  }
  return scopes as string[];
}
