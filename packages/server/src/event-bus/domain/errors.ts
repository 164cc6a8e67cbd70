import type { CursorProblem } from './event-subscription.port';
/** The log could not be written or read (Redis down, script failed, ...). */
export class EventLogUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventLogUnavailableError';
  }
}

/**
 * The events were written to the primary, but fewer replicas than required
 * confirmed them in time (`durability: 'replicated'`): a failover before
 * they reach a replica would lose them. A retry with the same idempotency
 * key writes nothing again and waits for the replicas once more.
 */
export class EventLogNotReplicatedError extends EventLogUnavailableError {
  constructor(
    readonly confirmed: number,
    readonly required: number,
    timeoutMs: number,
    count: number,
  ) {
    super(
      `${count} event(s) were written to the Redis primary, but only ${confirmed} of the ${required} required replica(s) confirmed them within ${timeoutMs} ms; a failover now could lose them. Retry with the same idempotency key: nothing is written twice.`,
    );
    this.name = 'EventLogNotReplicatedError';
  }
}

/**
 * The single log under this prefix was closed: the application moved to a
 * partitioned layout, whose writers marked the log and now write to its
 * partitions, and nobody reads the single log past the mark. Nothing was
 * written. An `EventLogUnavailableError`, so HTTP answers 503 and a client
 * retries, reaching a node of the new layout once this one is replaced.
 */
export class LayoutChangedError extends EventLogUnavailableError {
  constructor(
    /** The id of the layout the log moved to. */
    readonly layout: string,
    /** P of that layout. */
    readonly partitions: number,
  ) {
    super(
      `This event log moved to ${partitions} partitions (layout ${layout}); this node still writes the single log, which nobody reads any more, so nothing was written. Run it with partitions: ${partitions} (EVENT_PARTITIONS=${partitions} in the reference app), as the nodes that moved it.`,
    );
    this.name = 'LayoutChangedError';
  }
}

/** A cursor that is not an event id this log could have produced. */
export class InvalidCursorError extends Error {
  constructor(readonly cursor: unknown) {
    super(
      `"${String(cursor).slice(0, 80)}" is not a valid event id; expected "<epoch>:<ms>-<seq>" as delivered with an event.`,
    );
    this.name = 'InvalidCursorError';
  }
}

/** `replay` found that the log no longer holds every event after the cursor. */
export class CursorNotCoveredError extends Error {
  constructor(readonly reason: CursorProblem) {
    super(`The log no longer holds every event after this cursor (${reason}).`);
    this.name = 'CursorNotCoveredError';
  }
}

/**
 * An idempotency key came back with different content than it was first
 * used for. Answering with the first ids would tell the caller that its new
 * content was stored, so the publish is refused instead.
 */
export class IdempotencyKeyReusedError extends Error {
  constructor(readonly key: string) {
    super(
      `The idempotency key "${key.slice(0, 80)}" was already used for different content; use a new key for new content.`,
    );
    this.name = 'IdempotencyKeyReusedError';
  }
}

/**
 * An error's message for use inside a sentence of another message: without
 * its final period, which the sentence around it supplies (messages end
 * with one, and "...(connection reconnecting).." reads as a typo).
 */
export function errorText(error: unknown): string {
  const text = String((error as Error)?.message ?? error);
  return text.endsWith('.') && !text.endsWith('..') ? text.slice(0, -1) : text;
}
