import type { ChannelsChange, StreamgateClientError } from '@streamgate/client';
import type { AnyStreamgateClient } from './streamgate.context';

interface ChannelRef {
  count: number;
  subscribed: Promise<ChannelsChange>;
  // An unsubscribe waiting for a macrotask, so that a remount in between (React's
  // strict mode runs every effect twice) keeps the subscription instead of churning it.
  release: ReturnType<typeof setTimeout> | null;
}

/**
 * How many mounted hooks hold each channel, per client, so that two
 * components on one channel do not unsubscribe each other: the first one
 * subscribes, the last one to unmount unsubscribes. Subscriptions the app
 * makes itself with `client.subscribe()` are not counted here.
 */
const refs = new WeakMap<AnyStreamgateClient, Map<string, ChannelRef>>();

export function holdChannel(
  client: AnyStreamgateClient,
  channel: string,
): Promise<ChannelsChange> {
  let channels = refs.get(client);
  if (!channels) {
    channels = new Map();
    refs.set(client, channels);
  }
  let ref = channels.get(channel);
  if (!ref) {
    ref = {
      count: 0,
      subscribed: client.subscribe([channel]),
      release: null,
    };
    channels.set(channel, ref);
    const held = ref;
    // A refused subscribe is forgotten, so that the next mount tries again.
    ref.subscribed.catch(() => {
      if (channels!.get(channel) === held) channels!.delete(channel);
    });
  }
  if (ref.release !== null) {
    clearTimeout(ref.release);
    ref.release = null;
  }
  ref.count++;
  return ref.subscribed;
}

export function releaseChannel(
  client: AnyStreamgateClient,
  channel: string,
  onError: (error: StreamgateClientError) => void,
): void {
  const channels = refs.get(client);
  const ref = channels?.get(channel);
  if (!channels || !ref || --ref.count > 0) return;
  ref.release = setTimeout(() => {
    if (channels.get(channel) !== ref || ref.count > 0) return;
    channels.delete(channel);
    // A failed unsubscribe leaves an extra channel, never a missing one; the app hears of it.
    client.unsubscribe([channel]).catch(onError);
  }, 0);
}
