/** The log stayed unreachable for the whole of `startupTimeoutMs`. */
export class EventLogStartupError extends Error {
  constructor(waitedMs: number, cause: unknown) {
    super(
      `The event log was not reachable within ${waitedMs} ms of start-up (last error: ${String((cause as Error)?.message ?? cause).replace(/\.$/, '')}). Check that Redis is running and reachable at the configured address, or raise startupTimeoutMs (EVENT_STARTUP_TIMEOUT_MS in the reference app).`,
      { cause },
    );
    this.name = 'EventLogStartupError';
  }
}
