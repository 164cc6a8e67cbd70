export * from './agent-message-store.port';
export * from './process-message';
export * from './process-messages.errors';
