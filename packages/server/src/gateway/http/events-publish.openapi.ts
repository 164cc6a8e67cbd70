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
import { MAX_PARTITION_KEY_LENGTH } from './events-publish.partition-key';

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

  @ApiPropertyOptional({
    type: 'string',
    enum: ['durable', 'ephemeral'],
    default: 'durable',
    description:
      '`ephemeral`: delivered live only to the connections that see it and subscribe to one of its scopes (or are unfiltered), on every node; never written to the log, so it has no id and is never replayed. A batch is all durable or all ephemeral.',
  })
  readonly delivery?: 'durable' | 'ephemeral';

  @ApiPropertyOptional({
    type: 'string',
    minLength: 1,
    maxLength: MAX_PARTITION_KEY_LENGTH,
    description:
      "On a partitioned log (`partitions` > 1): the partition key, so the event goes to partition `crc32(partitionKey) mod P`. With a partition scope (e.g. `tenant:`) it must be one of the event's scopes with that prefix; absent, the smallest such scope decides, or partition 0. In a batch, every event that names one names the same, and it applies to the whole batch (a batch is atomic within one partition; one spanning several is refused with 400). Not for ephemeral events.",
    example: 'tenant:t7',
  })
  readonly partitionKey?: string;
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

@ApiSchema({ name: 'AcceptedEphemeralEvents' })
export class AcceptedEphemeralEventsDoc {
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    description:
      'How many ephemeral events were handed to the nodes for live delivery (at most once; they have no ids).',
    example: 1,
  })
  readonly accepted!: number;
}

/** The OpenAPI description of `POST /events`. */
export function PublishEventsDoc(options: {
  scope: string;
  reserved: Iterable<string>;
}): MethodDecorator {
  const reserved = [...options.reserved].map((type) => `\`${type}\``);
  return applyDecorators(
    ApiExtraModels(
      NewEventDoc,
      PublishedEventDoc,
      PublishedEventsDoc,
      AcceptedEphemeralEventsDoc,
    ),
    ApiOperation({
      operationId: 'publishEvents',
      summary: 'Publish an event, or a batch of events',
      description: [
        `Requires the scope \`${options.scope}\` (or \`*\`).`,
        'Appends to the event log through the `EventPublisher` port; every node delivers the events to the Socket.IO clients whose scopes cover them.',
        `A batch (an array of 1 to ${MAX_PUBLISH_BATCH} events) is validated whole and written in one atomic step: all or nothing.`,
        'Events with `"delivery": "ephemeral"` are not written: they are delivered live on every node and answered 202. A batch that mixes durable and ephemeral events answers 400.',
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
    ApiResponse({
      status: 202,
      description:
        'Ephemeral events (`"delivery": "ephemeral"`) handed to every node for live delivery; nothing was written to the log.',
      schema: schemaRef('AcceptedEphemeralEvents'),
    }),
    ApiValidationResponse(
      'An invalid event or batch, a reserved type, a batch that mixes durable and ephemeral events, or an `Idempotency-Key` with ephemeral events; on a partitioned log, a `partitionKey` the layout cannot route, keys that differ within a batch, or a batch spanning partitions. `field` names the culprit, e.g. `type`, `[2].scopes[0]`, `[1].delivery` or `partitionKey`.',
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
