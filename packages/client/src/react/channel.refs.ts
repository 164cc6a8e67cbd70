import {
  ChannelsChange,
  RefusedChannel,
  StreamgateChannelError,
  StreamgateClientError,
} from '@streamgate/client';
import type { AnyStreamgateClient } from './streamgate.context';

/** Refusals that say "not now" rather than "no": a held channel is asked for again. */
const TRANSIENT = new Set(['unavailable', 'rate_limited']);
const RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 16_000];

interface ChannelRef {
  count: number;
  subscribed: Promise<ChannelsChange>;
  // An unsubscribe waiting for a macrotask, so that a remount in between (React's
  // strict mode runs every effect twice) keeps the subscription instead of churning it.
  release: ReturnType<typeof setTimeout> | null;
  readonly watchers: Set<() => void>;
}

/** What a hook holds of one channel: the subscription as it stands, news of a new one, and the way to let go. */
export interface HeldChannel {
  current(): Promise<ChannelsChange>;
  watch(onChange: () => void): () => void;
  /** The last holder to let go unsubscribes; a failed unsubscribe goes to `onError`. */
  release(onError: (error: StreamgateClientError) => void): void;
}

/**
 * How many mounted hooks hold each channel, per client, so that two
 * components on one channel do not unsubscribe each other: the first one
 * subscribes, the last one to unmount unsubscribes. Subscriptions the app
 * makes itself with `client.subscribe()` are not counted here.
 *
 * A held channel that the server refuses for now (`unavailable`,
 * `rate_limited`), when subscribing or when it takes the channel out at a
 * reconnect or a token refresh, is asked for again with backoff; one it
 * refuses for good (`forbidden`, ...) is let go, and the hooks show why.
 */
const refs = new WeakMap<AnyStreamgateClient, Map<string, ChannelRef>>();

function channelsOf(client: AnyStreamgateClient): Map<string, ChannelRef> {
  let channels = refs.get(client);
  if (!channels) {
    const created = new Map<string, ChannelRef>();
    refs.set(client, created);
    client.onRefused((refused: readonly RefusedChannel[]) => {
      for (const { channel, error } of refused) {
        const ref = created.get(channel);
        if (!ref) continue;
        ref.subscribed = TRANSIENT.has(error)
          ? subscribeHeld(client, created, channel, ref, 0)
          : Promise.reject(
              new StreamgateChannelError('subscribe', error, channel),
            );
        settle(created, channel, ref);
        ref.watchers.forEach((notify) => notify());
      }
    });
    channels = created;
  }
  return channels;
}

async function subscribeHeld(
  client: AnyStreamgateClient,
  channels: Map<string, ChannelRef>,
  channel: string,
  ref: ChannelRef,
  firstDelay: number,
): Promise<ChannelsChange> {
  for (let attempt = 0; ; attempt++) {
    const wait = attempt === 0 ? firstDelay : RETRY_DELAYS_MS[attempt - 1];
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    try {
      return await client.subscribe([channel]);
    } catch (error) {
      const held = channels.get(channel) === ref && ref.count > 0;
      if (
        !held ||
        !(error instanceof StreamgateChannelError) ||
        !TRANSIENT.has(error.error) ||
        attempt >= RETRY_DELAYS_MS.length
      )
        throw error;
    }
  }
}

/** A failed subscription is let go, so that the next mount tries again. */
function settle(
  channels: Map<string, ChannelRef>,
  channel: string,
  ref: ChannelRef,
): void {
  const subscribed = ref.subscribed;
  subscribed.catch(() => {
    if (channels.get(channel) === ref && ref.subscribed === subscribed)
      channels.delete(channel);
  });
}

export function holdChannel(
  client: AnyStreamgateClient,
  channel: string,
): HeldChannel {
  const channels = channelsOf(client);
  let ref = channels.get(channel);
  if (!ref) {
    const created: ChannelRef = {
      count: 0,
      subscribed: Promise.resolve({ channels: [], position: null }),
      release: null,
      watchers: new Set(),
    };
    channels.set(channel, created);
    created.subscribed = subscribeHeld(client, channels, channel, created, 0);
    settle(channels, channel, created);
    ref = created;
  }
  if (ref.release !== null) {
    clearTimeout(ref.release);
    ref.release = null;
  }
  ref.count++;
  const held = ref;
  return {
    current: () => held.subscribed,
    watch: (onChange) => {
      held.watchers.add(onChange);
      return () => held.watchers.delete(onChange);
    },
    release: (onError) => release(client, channels, channel, held, onError),
  };
}

function release(
  client: AnyStreamgateClient,
  channels: Map<string, ChannelRef>,
  channel: string,
  ref: ChannelRef,
  onError: (error: StreamgateClientError) => void,
): void {
  // A subscription that failed was let go already; a newer one is not this holder's.
  if (channels.get(channel) !== ref || --ref.count > 0) return;
  ref.release = setTimeout(() => {
    if (channels.get(channel) !== ref || ref.count > 0) return;
    channels.delete(channel);
    // A failed unsubscribe leaves an extra channel, never a missing one; the app hears of it.
    client.unsubscribe([channel]).catch(onError);
  }, 0);
}
