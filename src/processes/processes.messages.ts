/** Log and error texts of the processes module, in one place so that they stay consistent. */
export const ProcessesMessages = {
  unknownStore: (store: unknown) =>
    `ProcessesModule: unknown store ${JSON.stringify(store)}. Use 'memory', 'redis' or 'postgres'.`,
  redisWithoutUrl: () =>
    `ProcessesModule: store 'redis' needs redisUrl (e.g. 'redis://127.0.0.1:6379').`,
  postgresWithoutUrl: () =>
    `ProcessesModule: store 'postgres' needs databaseUrl (e.g. 'postgres://user@127.0.0.1:5432/app').`,
  invalidNumber: (name: string, value: unknown, min: number, max: number) =>
    `ProcessesModule: option "${name}" must be an integer from ${min} to ${max} (got ${JSON.stringify(value)}).`,
  migrationFailed: (error: unknown) =>
    `ProcessesModule: the PostgreSQL migrations failed, so the process store cannot start: ${(error as Error)?.message ?? error}. Check databaseUrl and that the user may create tables.`,
  usingStore: (store: string) =>
    store === 'memory'
      ? 'Process messages are kept in this process only (store "memory"); they are lost on restart and not shared between nodes. Use "redis" or "postgres" in production.'
      : `Process messages are stored in ${store === 'redis' ? 'Redis' : 'PostgreSQL'}.`,
  publishFailed: (type: string, processId: string, error: unknown) =>
    `Could not publish ${type} for process "${processId}" on the event bus: ${(error as Error)?.message ?? error}. The store has it, so streams catch up on their next check; Socket.IO clients miss it until they re-read. Further failures are counted, not logged, until a publish succeeds again.`,
  publishRecovered: (failed: number) =>
    `Publishing process events works again after ${failed} failure(s).`,
  hubUnavailable: (error: unknown) =>
    `Live delivery is not running on this node (${(error as Error)?.message ?? error}); retry, or read pages without streaming.`,
  streamFailed: (processId: string, error: unknown) =>
    `A stream of process "${processId}" stopped because the store failed: ${(error as Error)?.message ?? error}. The client reconnects and resumes from its last seq.`,
};
