import {
  BadRequestException,
  Body,
  Controller,
  HttpCode,
  Post,
  Res,
  ServiceUnavailableException,
  UseGuards,
} from '@nestjs/common';
import {
  AccessControlService,
  InvalidUserIdError,
} from '../../access/access-control.service';
import { BearerAuthGuard } from '../../access/bearer-auth.guard';
import { RequireScope } from '../../access/require-scope.decorator';
import { RETRY_AFTER_SECONDS } from '../../event-bus/domain/idempotency-key';
import { ApiBearerAuth, ApiTags } from '../../openapi/openapi.decorators';
import { setResponseHeader } from '../../http/http-response';
import type { HostResponse } from '../../http/http-response';
import { RevokeDoc } from './revocations.openapi';

/** Scope that lets a caller revoke any user's tokens. */
export const REVOKE_SCOPE = 'auth:revoke';

/**
 * `POST /auth/revocations` with `{ "sub": "<user>" }`: refuses the user's
 * tokens issued so far and ends their connections on every node.
 */
@ApiTags('auth')
@ApiBearerAuth()
@Controller('auth/revocations')
@UseGuards(BearerAuthGuard)
export class RevocationsController {
  constructor(private readonly control: AccessControlService) {}

  @Post()
  @HttpCode(202)
  @RequireScope(REVOKE_SCOPE)
  @RevokeDoc({ scope: REVOKE_SCOPE })
  async revoke(
    @Body() body: unknown,
    @Res({ passthrough: true }) response: HostResponse,
  ): Promise<{ revokedAt: number }> {
    const sub = (body as { sub?: unknown } | null)?.sub;
    try {
      return { revokedAt: await this.control.revoke(sub as string) };
    } catch (error) {
      if (error instanceof InvalidUserIdError)
        throw new BadRequestException({
          statusCode: 400,
          error: 'Bad Request',
          message: error.message,
          field: 'sub',
        });
      setResponseHeader(response, 'Retry-After', String(RETRY_AFTER_SECONDS));
      throw new ServiceUnavailableException(
        `The revocation could not be recorded; retry: ${(error as Error)?.message ?? error}`,
      );
    }
  }
}
