import { createHash } from 'node:crypto';
import {
  describeValue,
  findJsonProblem,
  PROCESS_STATUSES,
  ProcessStatus,
} from '@streamgate/protocol';
import { InvalidProcessMessageError } from './process-messages.errors';

export { PROCESS_STATUSES } from '@streamgate/protocol';
export type { ProcessMessage, ProcessStatus } from '@streamgate/protocol';

/** A message as an agent hands it over. */
export interface NewProcessMessage {
  /** What the message is, e.g. `tool_call` or `end`. */
  readonly type: string;
  /** Conversation turn the message belongs to. */
  readonly turn?: number;
  readonly agent?: string;
  readonly model?: string;
  /** JSON-serialisable; read back deep-equal. */
  readonly payload: unknown;
}

export interface ReadOptions {
  /** Return messages with a seq greater than this; 0 reads from the start. */
  readonly after: number;
  /** At most this many messages, 1 to {@link MAX_READ_LIMIT}. */
  readonly limit: number;
}

export const PROCESS_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const MESSAGE_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_.:-]{0,127}$/;
export const MAX_LABEL_LENGTH = 256;
export const MAX_READ_LIMIT = 1000;
// PostgreSQL keeps `turn` in an integer column.
export const MAX_TURN = 2_147_483_647;

// PostgreSQL text and jsonb reject NUL and lone surrogates; refusing them
// everywhere keeps every adapter's behaviour the same.
const UNSTORABLE =
  /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isValidProcessId(value: unknown): value is string {
  return typeof value === 'string' && PROCESS_ID_PATTERN.test(value);
}

export function isProcessStatus(value: unknown): value is ProcessStatus {
  return (PROCESS_STATUSES as readonly unknown[]).includes(value);
}

export function isTerminalStatus(
  status: ProcessStatus | null | undefined,
): boolean {
  return (
    status === 'completed' || status === 'failed' || status === 'cancelled'
  );
}

export function assertProcessId(value: unknown): string {
  if (!isValidProcessId(value)) {
    throw new InvalidProcessMessageError(
      `processId must be a string matching ${PROCESS_ID_PATTERN} (got ${describeValue(value)}).`,
      'processId',
    );
  }
  return value;
}

export function assertProcessStatus(value: unknown): ProcessStatus {
  if (!isProcessStatus(value)) {
    throw new InvalidProcessMessageError(
      `status must be one of ${PROCESS_STATUSES.join(', ')} (got ${describeValue(value)}).`,
      'status',
    );
  }
  return value;
}

export function validateReadOptions(options: unknown): ReadOptions {
  const { after, limit } = (options ?? {}) as Record<string, unknown>;
  if (!Number.isSafeInteger(after) || (after as number) < 0) {
    throw new InvalidProcessMessageError(
      `after must be a non-negative integer, the seq of the last message already seen (got ${describeValue(after)}).`,
      'after',
    );
  }
  if (
    !Number.isSafeInteger(limit) ||
    (limit as number) < 1 ||
    (limit as number) > MAX_READ_LIMIT
  ) {
    throw new InvalidProcessMessageError(
      `limit must be an integer from 1 to ${MAX_READ_LIMIT}; page with "after" for more (got ${describeValue(limit)}).`,
      'limit',
    );
  }
  return { after: after as number, limit: limit as number };
}

/**
 * Checks a message body (typically straight from an HTTP request) and returns
 * it in canonical form: unknown fields dropped, optional fields that are
 * `undefined` or `null` left out. `path` prefixes the field name in errors so
 * that a batch can name the culprit.
 */
export function validateNewProcessMessage(
  body: unknown,
  path = '',
): NewProcessMessage {
  const at = (field: string) => (path ? `${path}.${field}` : field);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidProcessMessageError(
      `${path || 'message'} must be an object with "type", "payload" and optional "turn", "agent", "model" (got ${describeValue(body)}).`,
      path || 'message',
    );
  }
  const { type, turn, agent, model, payload } = body as Record<string, unknown>;
  if (typeof type !== 'string' || !MESSAGE_TYPE_PATTERN.test(type)) {
    throw new InvalidProcessMessageError(
      `${at('type')} must be a string matching ${MESSAGE_TYPE_PATTERN} (got ${describeValue(type)}).`,
      at('type'),
    );
  }
  const message: {
    -readonly [K in keyof NewProcessMessage]: NewProcessMessage[K];
  } = {
    type,
    payload: undefined,
  };
  if (turn != null) {
    if (!Number.isSafeInteger(turn) || (turn as number) < 0) {
      throw new InvalidProcessMessageError(
        `${at('turn')} must be a non-negative integer (got ${describeValue(turn)}).`,
        at('turn'),
      );
    }
    if ((turn as number) > MAX_TURN) {
      throw new InvalidProcessMessageError(
        `${at('turn')} must be at most ${MAX_TURN} (got ${turn}).`,
        at('turn'),
      );
    }
    message.turn = turn as number;
  }
  if (agent != null) message.agent = assertLabel(agent, at('agent'));
  if (model != null) message.model = assertLabel(model, at('model'));
  if (payload === undefined) {
    throw new InvalidProcessMessageError(
      `${at('payload')} is required (use null for no payload).`,
      at('payload'),
    );
  }
  const problem = findJsonProblem(payload, at('payload'), {
    rejectString: unstorable,
  });
  if (problem)
    throw new InvalidProcessMessageError(problem.message, problem.field);
  message.payload = payload;
  return message;
}

function assertLabel(value: unknown, field: string): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_LABEL_LENGTH ||
    UNSTORABLE.test(value)
  ) {
    throw new InvalidProcessMessageError(
      `${field} must be a non-empty string of at most ${MAX_LABEL_LENGTH} characters without NUL or lone surrogates (got ${describeValue(value)}).`,
      field,
    );
  }
  return value;
}

/** PostgreSQL cannot store NUL or lone surrogates in text or jsonb; no store accepts them, so all behave alike. */
function unstorable(value: string): string | null {
  return UNSTORABLE.test(value)
    ? 'contains a NUL character or a lone surrogate, which cannot be stored; escape or remove it.'
    : null;
}

/**
 * What a validated message holds, as a short digest: a retry of the same
 * append has the same fingerprint, a different message another one.
 */
export function processMessageFingerprint(
  message: NewProcessMessage,
  payloadJson: string,
): string {
  return createHash('sha1')
    .update(
      JSON.stringify([
        message.type,
        message.turn ?? null,
        message.agent ?? null,
        message.model ?? null,
        payloadJson,
      ]),
    )
    .digest('hex');
}
