import { Envelope } from '@streamgate/protocol';

/**
 * - `idle`: created, `connect()` not called yet;
 * - `connecting`: first attempt under way;
 * - `connected`: handshake accepted, replay running;
 * - `live`: `ready` received, events arrive as they happen;
 * - `reconnecting`: the connection was lost or refused, waiting or retrying;
 * - `failed`: the server refused the token (`unauthorized`) `maxRefusals`
 *   times in a row, so the client stopped retrying; sign the user in again,
 *   then call `connect()`;
 * - `closed`: `close()` was called.
 */
export type ClientState =
  | 'idle'
  | 'connecting'
  | 'connected'
  | 'live'
  | 'reconnecting'
  | 'failed'
  | 'closed';

/** Everything about a delivered event but its payload. */
export type EventMeta = Pick<Envelope, 'id' | 'type' | 'ts'>;

/** Maps event types to payload types, for typed `on()`; the default accepts any type. */
export type EventMap = Record<string, unknown>;

/** May be async; a rejection is reported like a throw, and the next event does not wait for it. */
export type EventHandler<TData> = (data: TData, meta: EventMeta) => unknown;
