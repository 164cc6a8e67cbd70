import { applyDecorators } from '@nestjs/common';
import { ANY_JSON } from '../../gateway/http/events-publish.openapi';
import {
  ApiAccessResponses,
  ApiBodyTooLargeResponse,
  ApiErrorResponse,
  ApiIdempotencyKey,
  ApiUnavailableResponse,
  ApiValidationResponse,
} from '../../openapi/error-responses.openapi';
import {
  ApiBody,
  ApiExtraModels,
  ApiHeader,
  ApiOperation,
  ApiParam,
  ApiProduces,
  ApiProperty,
  ApiPropertyOptional,
  ApiQuery,
  ApiResponse,
  ApiSchema,
  schemaRef,
} from '../../openapi/openapi.decorators';
import {
  MAX_LABEL_LENGTH,
  MAX_READ_LIMIT,
  MAX_TURN,
  MESSAGE_TYPE_PATTERN,
  PROCESS_ID_PATTERN,
  PROCESS_STATUSES,
} from '../domain/process-message';
import { DEFAULT_PAGE_LIMIT } from './process-messages.params';

const STATUSES = [...PROCESS_STATUSES];
const LABEL = {
  type: 'string',
  minLength: 1,
  maxLength: MAX_LABEL_LENGTH,
} as const;

@ApiSchema({ name: 'NewProcessMessage' })
export class NewProcessMessageDoc {
  @ApiProperty({
    type: 'string',
    pattern: MESSAGE_TYPE_PATTERN.source,
    description: 'What the message is.',
    example: 'tool_call',
  })
  readonly type!: string;

  @ApiProperty({
    ...ANY_JSON,
    description:
      'Any JSON (`null` for none), read back deep-equal. No NUL characters or lone surrogates, at most 64 levels deep.',
    example: { tool: 'grep' },
  })
  readonly payload!: unknown;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX_TURN,
    description: 'Conversation turn the message belongs to.',
  })
  readonly turn?: number;

  @ApiPropertyOptional({ ...LABEL, example: 'coder' })
  readonly agent?: string;

  @ApiPropertyOptional({ ...LABEL })
  readonly model?: string;
}

@ApiSchema({ name: 'ProcessMessage' })
export class ProcessMessageDoc {
  @ApiProperty({ type: 'string', example: 'run-42' })
  readonly processId!: string;

  @ApiProperty({
    type: 'integer',
    minimum: 1,
    description:
      '1, 2, 3, … per process with no gap: the cursor to resume after (`after`, `Last-Event-ID`).',
    example: 3,
  })
  readonly seq!: number;

  @ApiProperty({ type: 'string', example: 'tool_call' })
  readonly type!: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: MAX_TURN })
  readonly turn?: number;

  @ApiPropertyOptional({ ...LABEL })
  readonly agent?: string;

  @ApiPropertyOptional({ ...LABEL })
  readonly model?: string;

  @ApiProperty({ ...ANY_JSON, example: { tool: 'grep' } })
  readonly payload!: unknown;

  @ApiProperty({
    type: 'string',
    format: 'date-time',
    description: 'When the store accepted the message, ISO 8601 in UTC.',
  })
  readonly createdAt!: string;
}

@ApiSchema({ name: 'AppendedProcessMessage' })
export class AppendedProcessMessageDoc {
  @ApiProperty({ type: 'integer', minimum: 1, example: 3 })
  readonly seq!: number;
}

@ApiSchema({ name: 'ProcessStatusUpdate' })
export class ProcessStatusUpdateDoc {
  @ApiProperty({
    type: 'string',
    enum: STATUSES,
    description: '`running`, or one of the terminal statuses.',
    example: 'completed',
  })
  readonly status!: string;
}

@ApiSchema({ name: 'ProcessStatusChange' })
export class ProcessStatusChangeDoc {
  @ApiProperty({ type: 'string', enum: STATUSES, example: 'completed' })
  readonly status!: string;

  @ApiProperty({
    type: 'string',
    enum: STATUSES,
    nullable: true,
    description:
      '`null` for the first status; equal to `status` when nothing changed.',
    example: 'running',
  })
  readonly previous!: string | null;
}

@ApiSchema({ name: 'ProcessMessagePage' })
export class ProcessMessagePageDoc {
  @ApiProperty({ type: ProcessMessageDoc, isArray: true })
  readonly messages!: ProcessMessageDoc[];

  @ApiProperty({
    type: 'integer',
    minimum: 0,
    description:
      'The seq of the last message returned, or the cursor when none was: pass it as `after` for the next page.',
  })
  readonly nextAfter!: number;

  @ApiProperty({
    type: 'string',
    enum: STATUSES,
    nullable: true,
    description: 'The current status, `null` until one is set.',
  })
  readonly status!: string | null;
}

@ApiSchema({ name: 'ProcessEndedError' })
export class ProcessEndedErrorDoc {
  @ApiProperty({ type: 'integer', example: 409 })
  readonly statusCode!: number;

  @ApiProperty({ type: 'string', example: 'Conflict' })
  readonly error!: string;

  @ApiProperty({ type: 'string' })
  readonly message!: string;

  @ApiProperty({ type: 'string', example: 'run-42' })
  readonly processId!: string;

  @ApiProperty({ type: 'string', enum: STATUSES, example: 'completed' })
  readonly status!: string;
}

const SSE_EXAMPLE = [
  'retry: 3000',
  '',
  'id: 1',
  'event: message',
  'data: {"seq":1,"processId":"run-42","type":"text","payload":"hi","createdAt":"2026-11-28T12:00:00.000Z"}',
  '',
  ': heartbeat',
  '',
  'event: status',
  'data: {"status":"completed","previous":"running"}',
  '',
  'event: end',
  'data: {"status":"completed"}',
  '',
  '',
].join('\n');

const NDJSON_EXAMPLE = [
  '{"event":"message","message":{"seq":1,"processId":"run-42","type":"text","payload":"hi","createdAt":"2026-11-28T12:00:00.000Z"}}',
  '{"event":"heartbeat"}',
  '{"event":"status","status":"completed","previous":"running"}',
  '{"event":"end","status":"completed"}',
  '',
].join('\n');

function ProcessIdParam(): MethodDecorator {
  return applyDecorators(
    ApiParam({
      name: 'id',
      description: 'The process id.',
      schema: { type: 'string', pattern: PROCESS_ID_PATTERN.source },
      example: 'run-42',
    }),
  );
}

const STORE_UNAVAILABLE =
  'The process store is unavailable; retry later (streams: reconnect with the last seq).';

/** The OpenAPI description of `POST /processes/:id/messages`. */
export function AppendProcessMessageDoc(scope: string): MethodDecorator {
  return applyDecorators(
    ApiOperation({
      operationId: 'appendProcessMessage',
      summary: 'Append a message to a process',
      description: `Requires the scope \`${scope}\` (or \`*\`). The message is stored first, then announced on the event bus as a \`process_message\` event with the scope \`process:<id>\`. Unknown fields are dropped. With an \`Idempotency-Key\`, a retry is safe: the same principal sending the same key and message again gets the first seq, and nothing is stored or announced again; keys last as long as the process's messages.`,
    }),
    ProcessIdParam(),
    ApiIdempotencyKey(
      'Names this append so that a retry of it cannot store the message twice, e.g. a UUID per message; 1 to 255 visible ASCII characters.',
    ),
    ApiBody({ type: NewProcessMessageDoc }),
    ApiResponse({
      status: 201,
      description: 'Stored, with the seq it was given.',
      type: AppendedProcessMessageDoc,
    }),
    ApiValidationResponse(
      'An invalid process id or message; `field` names it, e.g. `processId`, `type` or `payload.items[2]`.',
    ),
    ApiAccessResponses(`\`${scope}\``),
    ApiResponse({
      status: 409,
      description:
        'The process has a terminal status and accepts no more messages.',
      type: ProcessEndedErrorDoc,
    }),
    ApiBodyTooLargeResponse(),
    ApiUnavailableResponse(
      `${STORE_UNAVAILABLE} The message may or may not have been stored: retry with the same \`Idempotency-Key\` to find out without storing it twice.`,
    ),
  );
}

/** The OpenAPI description of `PUT /processes/:id/status`. */
export function SetProcessStatusDoc(scope: string): MethodDecorator {
  return applyDecorators(
    ApiOperation({
      operationId: 'setProcessStatus',
      summary: 'Set the status of a process',
      description: `Requires the scope \`${scope}\` (or \`*\`). Setting the current status again changes nothing and publishes nothing. Once terminal (\`completed\`, \`failed\`, \`cancelled\`), a process takes no other status; open streams send \`status\`, then \`end\`.`,
    }),
    ProcessIdParam(),
    ApiBody({ type: ProcessStatusUpdateDoc }),
    ApiResponse({
      status: 200,
      description: 'The new status and the one before it.',
      type: ProcessStatusChangeDoc,
    }),
    ApiValidationResponse(
      'An invalid process id or status; `field` is `processId` or `status`.',
    ),
    ApiAccessResponses(`\`${scope}\``),
    ApiResponse({
      status: 409,
      description: 'The process already has another, terminal status.',
      type: ProcessEndedErrorDoc,
    }),
    ApiBodyTooLargeResponse(),
    ApiUnavailableResponse(STORE_UNAVAILABLE),
  );
}

/** The OpenAPI description of `GET /processes/:id/messages`. */
export function ReadProcessMessagesDoc(): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(ProcessMessageDoc, ProcessMessagePageDoc),
    ApiOperation({
      operationId: 'readProcessMessages',
      summary: 'Read the messages of a process: a page, or a stream',
      description: [
        'Requires the scope `process:<id>` (or `*`); a caller without it gets 403 whether or not the process exists.',
        'The answer follows `Accept`: `text/event-stream` streams Server-Sent Events, `application/x-ndjson` streams one JSON object per line, anything else gets a JSON page.',
        'Both return the messages with a seq greater than the cursor: the `Last-Event-ID` header when present and not empty, else `after`, else 0.',
        'A stream sends the history, then live messages, each once and in seq order, with heartbeats while idle; it sends `end` and closes when the process is terminal.',
        'A stream that closes without `end` was interrupted: reconnect with `Last-Event-ID` set to the last seq received.',
        'A stream also ends early, with `end` carrying `{"reason":"token_expired"}` (resume with a fresh token and `Last-Event-ID`) or `{"reason":"revoked"}` (stop).',
      ].join(' '),
    }),
    ProcessIdParam(),
    ApiHeader({
      name: 'Last-Event-ID',
      required: false,
      description:
        'The seq of the last message already received; wins over `after`. An empty value means no cursor.',
      schema: { type: 'string', pattern: '^\\d{1,16}$' },
    }),
    ApiQuery({
      name: 'after',
      required: false,
      description:
        'Return messages with a seq greater than this. It may not be past the newest message.',
      schema: { type: 'integer', minimum: 0, default: 0 },
    }),
    ApiQuery({
      name: 'limit',
      required: false,
      description: `Page size of the JSON answer, 1 to ${MAX_READ_LIMIT}; streams ignore it.`,
      schema: {
        type: 'integer',
        minimum: 1,
        maximum: MAX_READ_LIMIT,
        default: DEFAULT_PAGE_LIMIT,
      },
    }),
    ApiProduces(
      'application/json',
      'text/event-stream',
      'application/x-ndjson',
    ),
    ApiResponse({
      status: 200,
      description:
        'A JSON page, or a stream of `message`, `status` and `end` events (see the `text/event-stream` and `application/x-ndjson` examples).',
      content: {
        'application/json': { schema: schemaRef('ProcessMessagePage') },
        'text/event-stream': {
          schema: {
            type: 'string',
            description:
              '`message` events carry a ProcessMessage as JSON with its seq as `id`; `status` carries `{status, previous}`; `end` carries `{status}` or `{reason}`; status and end have no id.',
          },
          example: SSE_EXAMPLE,
        },
        'application/x-ndjson': {
          schema: {
            type: 'string',
            description:
              'One object per line: `{"event":"message","message":ProcessMessage}`, `{"event":"heartbeat"}`, `{"event":"status","status","previous"}`, `{"event":"end","status"}` or `{"event":"end","reason"}`.',
          },
          example: NDJSON_EXAMPLE,
        },
      },
    }),
    ApiValidationResponse(
      'An invalid process id, `after`, `Last-Event-ID` or `limit`, or a cursor past the newest message; `field` names it.',
    ),
    ApiAccessResponses('`process:<id>`'),
    ApiErrorResponse(
      404,
      'Nothing was ever stored for the process (answered only to callers that may read it).',
    ),
    ApiErrorResponse(
      429,
      'The user already holds the most streams a node allows (`SSE_MAX_STREAMS_PER_USER`); close one first.',
    ),
    ApiUnavailableResponse(STORE_UNAVAILABLE),
  );
}
