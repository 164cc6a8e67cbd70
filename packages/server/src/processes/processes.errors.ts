/** Neither a status nor any message was ever stored for the process. */
export class ProcessNotFoundError extends Error {
  constructor(readonly processId: string) {
    super(
      `Process "${processId}" has no status and no messages. Check the id, or append a message or set a status first.`,
    );
    this.name = 'ProcessNotFoundError';
  }
}

/** The read cursor points past the newest message, so nothing would ever arrive. */
export class CursorAheadOfProcessError extends Error {
  constructor(
    readonly processId: string,
    readonly after: number,
    readonly lastSeq: number,
    /** Where the cursor came from: `after` or `Last-Event-ID`. */
    readonly field: string,
  ) {
    super(
      `${field} is ${after}, but the newest message of process "${processId}" has seq ${lastSeq}. Resume from a seq you received (or 0 to read from the start).`,
    );
    this.name = 'CursorAheadOfProcessError';
  }
}

/** `ProcessesModule` options that cannot work. */
export class ProcessesConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProcessesConfigError';
  }
}
