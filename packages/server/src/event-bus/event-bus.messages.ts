export const EventBusMessages = {
  unknownDriver: (driver: unknown) =>
    `EventBusModule: unknown driver "${String(driver)}". Use 'memory' (the default) or 'redis'.`,
  redisWithoutConnection: () =>
    `EventBusModule: driver 'redis' needs a connection. Pass redis: { url: 'redis://host:6379' }, { sentinels, name }, { cluster: { nodes } } or an ioredis client.`,
  unknownDurability: (durability: unknown) =>
    `EventBusModule: unknown durability "${String(durability)}". Use 'leader' (the default) or 'replicated'.`,
  replicatedWithoutRedis: () =>
    `EventBusModule: durability 'replicated' waits for Redis replicas and needs driver 'redis'.`,
  invalidNumber: (name: string, value: unknown) =>
    `EventBusModule: option "${name}" must be a positive integer (got ${JSON.stringify(value)}).`,
  invalidPartitions: (value: unknown, max: number) =>
    `EventBusModule: option "partitions" must be an integer from 1 to ${max} (got ${JSON.stringify(value) ?? String(value)}).`,
  invalidPartitionScope: (value: unknown) =>
    `EventBusModule: option "partitionScope" must be null or a scope prefix such as "tenant:" (1-256 characters, no surrounding spaces, not "*"), got ${JSON.stringify(value) ?? String(value)}.`,
  invalidGrace: (value: unknown) =>
    `EventBusModule: option "hub.partitionReaderGraceMs" must be an integer of 0 or more, in milliseconds (got ${JSON.stringify(value) ?? String(value)}).`,
  usingMemory: () =>
    'Using the in-memory event log: events live in this process only. Set driver "redis" to share them between nodes and keep them across restarts.',
  linked: (what: string) =>
    `${what} of EventBusModule: add EventBusModule.forRoot({ ... }) or forRootAsync({ ... }) to the imports of your AppModule; isGlobal is not needed`,
  missingModule: (owner: string) =>
    `${owner} needs EventBusModule, and no EventBusModule is imported in this app. Add EventBusModule.forRoot({ driver: 'redis', redis: { url: 'redis://127.0.0.1:6379' } }) (or forRootAsync, or forRoot({}) for the in-memory log) to the imports of your AppModule; isGlobal is not needed.`,
  usingRedis: (prefix: string) =>
    `Using the Redis Streams event log under the prefix "${prefix}".`,
  partitioned: (partitions: number, scope: string | null, layout: string) =>
    `The log has ${partitions} partitions (layout ${layout}), ${scope === null ? 'without a partition scope: every connection reads every partition' : `keyed by the scope prefix "${scope}"`}.`,
  layoutRecorded: (markerId: string | null) =>
    markerId === null
      ? 'No single log under this prefix to close: the partitions take every append.'
      : `The single log under this prefix is closed at its marker entry ${markerId}; its writers are refused from there and the partitions take every append.`,
};
