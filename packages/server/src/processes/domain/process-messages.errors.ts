import type { ProcessStatus } from './process-message';

/** A process id, message, status or read option that the store cannot accept. */
export class InvalidProcessMessageError extends Error {
  constructor(
    message: string,
    /** Where the problem is, e.g. `turn` or `payload.items[2]`. */
    readonly field: string,
  ) {
    super(message);
    this.name = 'InvalidProcessMessageError';
  }
}

/**
 * The process already reached a terminal status. Readers that saw it end will
 * never look for more, so the store refuses further messages and status changes.
 */
export class ProcessAlreadyEndedError extends Error {
  constructor(
    readonly processId: string,
    readonly status: ProcessStatus,
  ) {
    super(
      `Process "${processId}" has already ended with status "${status}" and accepts no more messages or status changes; start a new process id for a new run.`,
    );
    this.name = 'ProcessAlreadyEndedError';
  }
}

/** The backing store (Redis, PostgreSQL) could not be read or written. */
export class ProcessMessageStoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProcessMessageStoreUnavailableError';
  }
}
