import { useEffect, useRef, useState } from 'react';
import type {
  EphemeralEventMeta,
  EventMeta,
  PresenceMember,
  StreamgateClientError,
} from '@streamgate/client';
import { HeldChannel, holdChannel } from './channel.refs';
import { useStreamgateContext } from './streamgate.context';

/**
 * Calls `handler` for every event of `type` while the component is
 * mounted, ephemeral ones included (`meta.ephemeral === true`, no id). The
 * newest `handler` is called without re-registering, so an inline function
 * is fine. `TData` declares the payload; nothing checks it at run time.
 */
export function useEvents<TData = unknown>(
  type: string,
  handler: (data: TData, meta: EventMeta | EphemeralEventMeta) => unknown,
): void {
  const { client } = useStreamgateContext();
  const latest = useRef(handler);
  latest.current = handler;
  useEffect(
    () =>
      client.on(type, (data: unknown, meta: EventMeta | EphemeralEventMeta) =>
        latest.current(data as TData, meta),
      ),
    [client, type],
  );
}

/** Where `useChannel`'s subscription stands. */
export interface ChannelStatus {
  /** True once the server acknowledged every channel. */
  readonly subscribed: boolean;
  /** Why a subscribe failed (`StreamgateChannelError`, `StreamgateRequestError`), else `null`. */
  readonly error: StreamgateClientError | null;
}

/**
 * Subscribes to channels while the component is mounted. Hooks count who
 * holds each channel, so two components on one channel do not unsubscribe
 * each other: the last one to unmount unsubscribes. The subscription rides
 * on the client's set, so it survives reconnects. A channel the server
 * refuses for now (`unavailable`, `rate_limited`), at once or when it takes
 * it out later (a reconnect, a token refresh), is asked for again with
 * backoff; one it refuses for good shows in `error`.
 */
export function useChannel(
  channels: string | readonly string[],
): ChannelStatus {
  const { client, onError } = useStreamgateContext();
  const list = typeof channels === 'string' ? [channels] : [...channels];
  // The array a caller passes is usually new on every render; its content is what counts.
  const key = JSON.stringify([...new Set(list)].sort());
  const held = useRef<{ key: string; channels: HeldChannel[] } | null>(null);
  const [changes, setChanges] = useState(0);
  const [status, setStatus] = useState<ChannelStatus & { key: string }>({
    key,
    subscribed: false,
    error: null,
  });
  useEffect(() => {
    const holds = (JSON.parse(key) as string[]).map((channel) =>
      holdChannel(client, channel),
    );
    held.current = { key, channels: holds };
    const stopWatching = holds.map((h) =>
      h.watch(() => setChanges((n) => n + 1)),
    );
    setChanges((n) => n + 1);
    return () => {
      stopWatching.forEach((stop) => stop());
      holds.forEach((h) => h.release(onError));
      held.current = null;
    };
  }, [client, key, onError]);
  useEffect(() => {
    const current = held.current;
    if (!current || current.key !== key) return;
    let active = true;
    setStatus((s) =>
      s.key === key && !s.subscribed && !s.error
        ? s
        : { key, subscribed: false, error: null },
    );
    Promise.all(current.channels.map((h) => h.current())).then(
      () => active && setStatus({ key, subscribed: true, error: null }),
      (error: StreamgateClientError) =>
        active && setStatus({ key, subscribed: false, error }),
    );
    return () => {
      active = false;
    };
  }, [key, changes]);
  return status.key === key
    ? { subscribed: status.subscribed, error: status.error }
    : { subscribed: false, error: null };
}

/**
 * The live member list of a presence channel. It subscribes to the channel
 * while mounted (as `useChannel`), since only subscribers are present and
 * receive joins and leaves; the list is empty until the first answer.
 */
export function usePresence(channel: string): readonly PresenceMember[] {
  const { client } = useStreamgateContext();
  useChannel(channel);
  const [members, setMembers] = useState<{
    channel: string;
    list: readonly PresenceMember[];
  }>({ channel, list: [] });
  useEffect(
    () =>
      client.onPresence(channel, (snapshot) =>
        setMembers({ channel, list: snapshot.members }),
      ),
    [client, channel],
  );
  return members.channel === channel ? members.list : NO_MEMBERS;
}

const NO_MEMBERS: readonly PresenceMember[] = Object.freeze([]);
