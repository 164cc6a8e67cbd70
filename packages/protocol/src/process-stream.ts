/**
 * Wire shapes of agent process messages (docs/process-messages.md): SSE event
 * names and NDJSON `event` values, statuses and the message itself. The
 * server writes them and the client reads them.
 */
export const ProcessStreamEvent = {
  message: 'message',
  status: 'status',
  end: 'end',
} as const;

/**
 * Why the server ended a stream before the process ended: `event: end` then
 * carries `{ "reason": ... }` instead of `{ "status": ... }`. After
 * `token_expired` the client resumes with `Last-Event-ID` and a fresh token;
 * after `revoked` it stops.
 */
export const PROCESS_STREAM_END_REASONS = ['token_expired', 'revoked'] as const;
export type ProcessStreamEndReason =
  (typeof PROCESS_STREAM_END_REASONS)[number];

/** `running` until the run ends; the other three are terminal. */
export type ProcessStatus = 'running' | 'completed' | 'failed' | 'cancelled';

export const PROCESS_STATUSES: readonly ProcessStatus[] = Object.freeze([
  'running',
  'completed',
  'failed',
  'cancelled',
]);

/** A message of an agent process as it is stored, paged and streamed. Absent optional fields stay absent. */
export interface ProcessMessage {
  readonly processId: string;
  /** 1, 2, 3, … per process, assigned at append time; the resume key for readers. */
  readonly seq: number;
  /** What the message is, e.g. `tool_call` or `end`. */
  readonly type: string;
  /** Conversation turn the message belongs to. */
  readonly turn?: number;
  readonly agent?: string;
  readonly model?: string;
  /** JSON; read back deep-equal. */
  readonly payload: unknown;
  /** When the store accepted the message, ISO 8601 in UTC. */
  readonly createdAt: string;
}
