import { applyDecorators } from '@nestjs/common';
import {
  EVENT_TYPE_PATTERN,
  MAX_SCOPES_PER_EVENT,
} from '../../event-bus/domain/event';
import {
  ApiAccessResponses,
  ApiBodyTooLargeResponse,
  ApiIdempotencyKey,
  ApiUnavailableResponse,
  ApiValidationResponse,
} from '../../openapi/error-responses.openapi';
import {
  ApiBody,
  ApiExtraModels,
  ApiOperation,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  ApiSchema,
  schemaRef,
} from '../../openapi/openapi.decorators';

/** Most events one `POST /events` may carry. */
export const MAX_PUBLISH_BATCH = 1000;

/** Any JSON value: OpenAPI 3.0 has no type for it, so list them. */
export const ANY_JSON = {
  nullable: true,
  oneOf: [
    { type: 'object' },
    { type: 'array', items: {} },
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
  ],
};

@ApiSchema({ name: 'NewEvent' })
export class NewEventDoc {
  @ApiProperty({
    type: 'string',
    pattern: EVENT_TYPE_PATTERN.source,
    description: 'What happened; the event name clients subscribe to.',
    example: 'agent_activity',
  })
  readonly type!: string;

  @ApiProperty({
    ...ANY_JSON,
    description:
      'Any JSON (`null` for none), at most 64 levels deep; delivered deep-equal.',
    example: { agent: 'a', action: 'build_finished' },
  })
  readonly data!: unknown;

  @ApiPropertyOptional({
    type: 'string',
    isArray: true,
    maxItems: MAX_SCOPES_PER_EVENT,
    description:
      'Scopes a principal must all hold to see the event (`*` holds every scope). Empty or absent: every authenticated principal sees it.',
    example: ['agent:a'],
  })
  readonly scopes?: string[];
}

@ApiSchema({ name: 'PublishedEvent' })
export class PublishedEventDoc {
  @ApiProperty({
    type: 'string',
    description:
      'The event id, `<epoch>:<ms>-<seq>`: the cursor clients resume from.',
    example: '3f9a1c2e:1764355200000-0',
  })
  readonly id!: string;
}

@ApiSchema({ name: 'PublishedEvents' })
export class PublishedEventsDoc {
  @ApiProperty({
    type: 'string',
    isArray: true,
    description: 'The ids of the batch, in the order it was sent.',
    example: ['3f9a1c2e:1764355200000-0', '3f9a1c2e:1764355200000-1'],
  })
  readonly ids!: string[];
}

/** The OpenAPI description of `POST /events`. */
export function PublishEventsDoc(options: {
  scope: string;
  reserved: Iterable<string>;
}): MethodDecorator {
  const reserved = [...options.reserved].map((type) => `\`${type}\``);
  return applyDecorators(
    ApiExtraModels(NewEventDoc, PublishedEventDoc, PublishedEventsDoc),
    ApiOperation({
      operationId: 'publishEvents',
      summary: 'Publish an event, or a batch of events',
      description: [
        `Requires the scope \`${options.scope}\` (or \`*\`).`,
        'Appends to the event log through the `EventPublisher` port; every node delivers the events to the Socket.IO clients whose scopes cover them.',
        `A batch (an array of 1 to ${MAX_PUBLISH_BATCH} events) is validated whole and written in one atomic step: all or nothing.`,
        'With an `Idempotency-Key`, a retry is safe: the same principal sending the same key and body again within the idempotency window (10 minutes by default) gets the first ids, and nothing is written again.',
        `The types ${reserved.join(', ')} are reserved: the process message service and the nodes' own notices publish them in process.`,
      ].join(' '),
    }),
    ApiBody({
      description: `One event, or an array of 1 to ${MAX_PUBLISH_BATCH} events.`,
      schema: {
        oneOf: [
          schemaRef('NewEvent'),
          {
            type: 'array',
            items: schemaRef('NewEvent'),
            minItems: 1,
            maxItems: MAX_PUBLISH_BATCH,
          },
        ],
      },
    }),
    ApiResponse({
      status: 201,
      description:
        'Appended: `{id}` for one event, `{ids}` for a batch, in order.',
      schema: {
        oneOf: [schemaRef('PublishedEvent'), schemaRef('PublishedEvents')],
      },
    }),
    ApiValidationResponse(
      'An invalid event or batch, or a reserved type; `field` names the culprit, e.g. `type` or `[2].scopes[0]`.',
    ),
    ApiAccessResponses(`\`${options.scope}\``),
    ApiBodyTooLargeResponse(),
    ApiIdempotencyKey(
      'Names this request so that a retry of it cannot publish twice, e.g. a UUID per request; 1 to 255 visible ASCII characters.',
    ),
    ApiUnavailableResponse(
      'The event log could not be written. The events may or may not have been published: retry after `Retry-After` seconds with the same `Idempotency-Key` to find out without publishing twice.',
    ),
  );
}
