import { applyDecorators } from '@nestjs/common';
import { DEFAULT_HISTORY_LIMIT, MAX_HISTORY_LIMIT } from '@streamgate/protocol';
import {
  ApiErrorResponse,
  ApiUnavailableResponse,
} from '../../openapi/error-responses.openapi';
import {
  ApiExtraModels,
  ApiOperation,
  ApiProperty,
  ApiQuery,
  ApiResponse,
  ApiSchema,
  schemaRef,
} from '../../openapi/openapi.decorators';

@ApiSchema({ name: 'HistoryEnvelope' })
export class HistoryEnvelopeDoc {
  @ApiProperty({ type: 'string', example: 'k3v9x2:1764355200000-0' })
  readonly id!: string;

  @ApiProperty({ type: 'string', example: 'agent_activity' })
  readonly type!: string;

  @ApiProperty({ description: 'The payload, as published.' })
  readonly data!: unknown;

  @ApiProperty({
    type: 'integer',
    description: 'Publish time, ms since the Unix epoch.',
    example: 1764355200000,
  })
  readonly ts!: number;
}

@ApiSchema({ name: 'HistoryPage' })
export class HistoryPageDoc {
  @ApiProperty({
    type: 'array',
    items: schemaRef('HistoryEnvelope'),
    description: 'The visible events of the channel in log order.',
  })
  readonly events!: HistoryEnvelopeDoc[];

  @ApiProperty({
    type: 'string',
    nullable: true,
    description:
      "Pass it as `after` for the next page; `null` when the range is done. A page may be cut by `limit` or by the server's scan budget, and may then be empty while `next` is set.",
    example: null,
  })
  readonly next!: string | null;
}

/** The OpenAPI description of `GET /events/history`. */
export function HistoryDoc(): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(HistoryEnvelopeDoc, HistoryPageDoc),
    ApiOperation({
      operationId: 'readHistory',
      summary: "One page of a channel's history",
      description: [
        'The events in the channel (one of their scopes) that the token may see, in log order, after `after` and up to `until`.',
        "The channel must be one of the token's scopes (or the token holds `*`), or be granted by the server's channel authorizer.",
        "Each request reads at most the server's replay scan budget of log entries (`replayScanLimit`); when the budget ends first, the page holds what was found and `next` names the last entry read.",
        'Socket.IO clients send the same request as `history` (docs/protocol.md).',
        "On a partitioned log (`partitions` > 1) a page reads the one partition that holds the channel's events visible to the token: `after`, `until` and `next` are partitioned ids `<k>:<epoch>:<ms>-<seq>`, `until` defaults to that partition's newest entry, and a channel whose events may lie in several partitions for this token answers 501.",
      ].join(' '),
    }),
    ApiQuery({
      name: 'channel',
      required: true,
      schema: { type: 'string', minLength: 1, maxLength: 256 },
      example: 'agent:a1',
    }),
    ApiQuery({
      name: 'after',
      required: false,
      schema: { type: 'string' },
      description: 'Exclusive; default: the oldest retained event.',
    }),
    ApiQuery({
      name: 'until',
      required: false,
      schema: { type: 'string' },
      description: "Inclusive; default: the server's current position.",
    }),
    ApiQuery({
      name: 'limit',
      required: false,
      schema: {
        type: 'integer',
        minimum: 1,
        maximum: MAX_HISTORY_LIMIT,
        default: DEFAULT_HISTORY_LIMIT,
      },
    }),
    ApiResponse({
      status: 200,
      description: 'A page of the history.',
      schema: schemaRef('HistoryPage'),
    }),
    ApiErrorResponse(
      400,
      '`error` is `invalid` (a malformed channel or limit), `invalid_cursor` (`after` or `until` is no event id) or `limit_exceeded` (`limit` above 1000).',
    ),
    ApiErrorResponse(
      401,
      'No bearer token (`Authorization: Bearer <token>`), or an invalid or expired one.',
    ),
    ApiErrorResponse(
      403,
      '`error` is `forbidden`: the token does not see the channel and the channel authorizer did not grant it.',
    ),
    ApiErrorResponse(
      501,
      '`error` is `not_supported`: the log is partitioned and the events of this channel visible to this token may lie in several partitions (a token with several scopes of the partition scope, or `*`); a page reads one partition.',
    ),
    ApiErrorResponse(
      410,
      '`error` is `trimmed` (the log no longer holds the events after `after`) or `epoch_changed` (the log was reset since): ask again without `after`.',
    ),
    ApiUnavailableResponse(
      '`error` is `unavailable`: the channel authorizer or the log could not answer; retry.',
    ),
  );
}
