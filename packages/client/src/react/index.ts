/*
 * The public API of @streamgate/client/react. The channel reference counts
 * and the context object stay private: components reach the client through
 * the provider and these hooks only.
 */
export { StreamgateProvider, useStreamgateClient } from './streamgate.context';
export type { StreamgateProviderProps } from './streamgate.context';
export { useChannel, useEvents, usePresence } from './streamgate.hooks';
export type { ChannelStatus } from './streamgate.hooks';
export { StreamgateHooksError } from './react.errors';
