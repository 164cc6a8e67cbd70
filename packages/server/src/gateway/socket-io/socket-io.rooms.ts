/**
 * Socket.IO rooms every `/events` socket is in, for host code that sends
 * ephemeral messages (typing indicators, presence) outside the durable log:
 * `server.to(scopeRoom('agent:a')).emit(...)`. With a cluster adapter
 * (`StreamgateIoAdapter`) they span every node.
 */
export const userRoom = (userId: string): string => `user:${userId}`;
export const scopeRoom = (scope: string): string => `scope:${scope}`;
