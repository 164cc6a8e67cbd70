import { applyDecorators } from '@nestjs/common';
import {
  ApiAccessResponses,
  ApiBodyTooLargeResponse,
  ApiUnavailableResponse,
  ApiValidationResponse,
} from '../../openapi/error-responses.openapi';
import {
  ApiBody,
  ApiExtraModels,
  ApiOperation,
  ApiProperty,
  ApiResponse,
  ApiSchema,
  schemaRef,
} from '../../openapi/openapi.decorators';

@ApiSchema({ name: 'Revocation' })
export class RevocationDoc {
  @ApiProperty({
    type: 'string',
    minLength: 1,
    maxLength: 256,
    description: 'The user (`sub`) whose tokens issued so far are revoked.',
    example: 'alice',
  })
  readonly sub!: string;
}

@ApiSchema({ name: 'RevocationRecorded' })
export class RevocationRecordedDoc {
  @ApiProperty({
    type: 'integer',
    description:
      'When the revocation took effect, in ms since the Unix epoch: tokens of the user with `iat` at or before it are refused.',
    example: 1764355200000,
  })
  readonly revokedAt!: number;
}

/** The OpenAPI description of `POST /auth/revocations`. */
export function RevokeDoc(options: { scope: string }): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(RevocationDoc, RevocationRecordedDoc),
    ApiOperation({
      operationId: 'revokeUser',
      summary: "Revoke a user's tokens on every node",
      description: [
        `Requires the scope \`${options.scope}\` (or \`*\`).`,
        'Records the revocation in the event bus\'s backend and announces it in the log: within a second every Socket.IO connection of the user, on every node, gets `evicted { reason: \'revoked\' }`, and every SSE/NDJSON stream it opened ends with `event: end` and `{"reason":"revoked"}`.',
        "From then on the user's tokens issued at or before `revokedAt` (`iat`, whole seconds) are refused at the handshake and with 401; tokens issued later work.",
      ].join(' '),
    }),
    ApiBody({ schema: schemaRef('Revocation') }),
    ApiResponse({
      status: 202,
      description: 'Revoked; connections end on every node within a second.',
      schema: schemaRef('RevocationRecorded'),
    }),
    ApiValidationResponse('`sub` is missing or malformed; `field` is `sub`.'),
    ApiAccessResponses(`\`${options.scope}\``),
    ApiBodyTooLargeResponse(),
    ApiUnavailableResponse(
      'The revocation could not be recorded or announced; retry.',
    ),
  );
}
