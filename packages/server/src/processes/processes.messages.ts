import { errorText } from '../event-bus/domain/errors';

/** Log and error texts of the processes module, in one place so that they stay consistent. */
export const ProcessesMessages = {
  unknownDriver: (driver: unknown) =>
    `ProcessesModule: unknown driver ${JSON.stringify(driver)}. Use 'memory', 'redis' or 'postgres'.`,
  redisWithoutConnection: () =>
    `ProcessesModule: driver 'redis' needs a connection. Pass redis: { url: 'redis://127.0.0.1:6379' } (or an ioredis client).`,
  postgresWithoutConnection: () =>
    `ProcessesModule: driver 'postgres' needs a connection. Pass postgres: { url: 'postgres://user@127.0.0.1:5432/app' } (or a pg Pool).`,
  invalidNumber: (name: string, value: unknown, min: number, max: number) =>
    `ProcessesModule: option "${name}" must be an integer from ${min} to ${max} (got ${JSON.stringify(value)}).`,
  migrationFailed: (error: unknown) =>
    `ProcessesModule: the PostgreSQL migrations failed, so the process store cannot start: ${errorText(error)}. Check the postgres connection and that the user may create tables.`,
  usingDriver: (driver: string) =>
    driver === 'memory'
      ? 'Process messages are kept in this process only (driver "memory"); they are lost on restart and not shared between nodes. Use "redis" or "postgres" in production.'
      : `Process messages are stored in ${driver === 'redis' ? 'Redis' : 'PostgreSQL'}.`,
  publishFailed: (type: string, processId: string, error: unknown) =>
    `Could not publish ${type} for process "${processId}" on the event bus: ${errorText(error)}. The store has it, and its outbox keeps the announcement until a node can publish it. Further failures are counted, not logged, until a publish succeeds again.`,
  announcementsRelayed: (count: number) =>
    `Relayed ${count} process announcement(s) from the outbox that their writer could not publish (the node stopped, or the event bus refused).`,
  outboxUnreadable: (error: unknown) =>
    `Could not read the announcement outbox of the process store: ${errorText(error)}. Announcements wait there; the relay tries again every second.`,
  outboxReadable: () =>
    'The announcement outbox of the process store can be read again.',
  relayFailed: (error: unknown) =>
    `The announcement relay failed a pass: ${errorText(error)}. It tries again.`,
  publishRecovered: (failed: number) =>
    `Publishing process events works again after ${failed} failure(s).`,
  hubUnavailable: (error: unknown) =>
    `Live delivery is not running on this node (${(error as Error)?.message ?? error}); retry, or read pages without streaming.`,
  streamFailed: (processId: string, error: unknown) =>
    `A stream of process "${processId}" stopped because the store failed: ${errorText(error)}. The client reconnects and resumes from its last seq.`,
};
