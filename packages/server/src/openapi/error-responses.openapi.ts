import { applyDecorators } from '@nestjs/common';
import {
  IDEMPOTENCY_KEY_PATTERN,
  RETRY_AFTER_SECONDS,
} from '../event-bus/domain/idempotency-key';
import {
  ApiHeader,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiSchema,
} from './openapi.decorators';

/** How every route answers an error: Nest's error body. */
@ApiSchema({ name: 'Error' })
export class ErrorBodyDoc {
  @ApiProperty({ type: 'integer', example: 403 })
  readonly statusCode!: number;

  @ApiPropertyOptional({ type: 'string', example: 'Forbidden' })
  readonly error?: string;

  @ApiProperty({
    type: 'string',
    description: 'What was wrong, and how to fix it.',
    example: 'This token lacks the scope "events:publish".',
  })
  readonly message!: string;
}

/** A 400: the message names the problem, `field` where it is. */
@ApiSchema({ name: 'ValidationError' })
export class ValidationErrorBodyDoc {
  @ApiProperty({ type: 'integer', example: 400 })
  readonly statusCode!: number;

  @ApiProperty({ type: 'string', example: 'Bad Request' })
  readonly error!: string;

  @ApiProperty({
    type: 'string',
    description: 'What was wrong, and how to fix it.',
    example:
      'type must be a string matching /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/ (got 42).',
  })
  readonly message!: string;

  @ApiProperty({
    type: 'string',
    description:
      'Where the problem is: a field name, a path such as `[2].scopes[0]` in a batch, or a header or query parameter.',
    example: 'type',
  })
  readonly field!: string;
}

/** The answers every route guarded by `BearerAuthGuard` may give. */
export function ApiAccessResponses(scope: string): MethodDecorator {
  return applyDecorators(
    ApiResponse({
      status: 401,
      description:
        'No bearer token (`Authorization: Bearer <token>`), or an invalid or expired one.',
      type: ErrorBodyDoc,
    }),
    ApiResponse({
      status: 403,
      description: `The token lacks the scope ${scope} (holders of \`*\` pass), or its principal has no access.`,
      type: ErrorBodyDoc,
    }),
  );
}

/** A 400 with `field`. */
export function ApiValidationResponse(description: string): MethodDecorator {
  return applyDecorators(
    ApiResponse({ status: 400, description, type: ValidationErrorBodyDoc }),
  );
}

/** Any other error status with Nest's error body. */
export function ApiErrorResponse(
  status: number,
  description: string,
): MethodDecorator {
  return applyDecorators(
    ApiResponse({ status, description, type: ErrorBodyDoc }),
  );
}

/** A 503 that tells the client when to retry. */
export function ApiUnavailableResponse(description: string): MethodDecorator {
  return applyDecorators(
    ApiResponse({
      status: 503,
      description,
      type: ErrorBodyDoc,
      headers: {
        'Retry-After': {
          description: 'Seconds to wait before retrying.',
          schema: { type: 'integer', example: RETRY_AFTER_SECONDS },
        },
      },
    }),
  );
}

/** The `Idempotency-Key` request header and the 422 of a key reused for another body. */
export function ApiIdempotencyKey(description: string): MethodDecorator {
  return applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description,
      schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source },
      example: '0b6f3c52-8f1e-4a8c-9d55-3e1f7c2a9b10',
    }),
    ApiResponse({
      status: 422,
      description:
        'The Idempotency-Key was already used by this principal for a different body.',
      type: ErrorBodyDoc,
    }),
  );
}

/** 413: the module's routes take bodies up to their module's `maxBodyBytes`, on any host. */
export function ApiBodyTooLargeResponse(): MethodDecorator {
  return ApiErrorResponse(
    413,
    "The body is larger than the module's `maxBodyBytes` (1 MiB by default), whatever the host's body parser allows.",
  );
}
