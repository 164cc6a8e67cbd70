import {
  ChannelsChange,
  RefusedChannel,
  StreamgateChannelError,
} from '@streamgate/client';
import { holdChannel } from './channel.refs';
import type { AnyStreamgateClient } from './streamgate.context';

/** A stand-in for the client: records requests, answers as each test says. */
class FakeClient {
  readonly calls: string[] = [];
  refusals: string[] = [];
  private refused: ((refused: readonly RefusedChannel[]) => void)[] = [];

  subscribe(channels: string[]): Promise<ChannelsChange> {
    this.calls.push(`subscribe ${channels}`);
    const refusal = this.refusals.shift();
    return refusal
      ? Promise.reject(
          new StreamgateChannelError('subscribe', refusal, channels[0]),
        )
      : Promise.resolve({ channels, position: 'e:1-0' });
  }

  unsubscribe(channels: string[]): Promise<ChannelsChange> {
    this.calls.push(`unsubscribe ${channels}`);
    return Promise.resolve({ channels: [], position: 'e:1-0' });
  }

  onRefused(fn: (refused: readonly RefusedChannel[]) => void): () => void {
    this.refused.push(fn);
    return () => undefined;
  }

  refuse(refused: RefusedChannel[]): void {
    this.refused.forEach((fn) => fn(refused));
  }
}

const fail = () => {
  throw new Error('no unsubscribe should fail here');
};

describe('channel holds', () => {
  let fake: FakeClient;
  let client: AnyStreamgateClient;

  beforeEach(() => {
    jest.useFakeTimers();
    fake = new FakeClient();
    client = fake as unknown as AnyStreamgateClient;
  });

  afterEach(() => jest.useRealTimers());

  describe('when two holders share a channel', () => {
    it('subscribes once and unsubscribes when the last lets go', async () => {
      const first = holdChannel(client, 'room:1');
      const second = holdChannel(client, 'room:1');
      await expect(first.current()).resolves.toMatchObject({
        channels: ['room:1'],
      });
      first.release(fail);
      await jest.advanceTimersByTimeAsync(10);
      expect(fake.calls).toEqual(['subscribe room:1']);
      second.release(fail);
      await jest.advanceTimersByTimeAsync(10);
      expect(fake.calls).toEqual(['subscribe room:1', 'unsubscribe room:1']);
    });
  });

  describe('when a holder lets go and another takes hold at once (strict mode)', () => {
    it('keeps the subscription without asking the server again', async () => {
      holdChannel(client, 'room:1').release(fail);
      const again = holdChannel(client, 'room:1');
      await jest.advanceTimersByTimeAsync(10);
      await expect(again.current()).resolves.toBeDefined();
      expect(fake.calls).toEqual(['subscribe room:1']);
    });
  });

  describe('when the server refuses for now', () => {
    it('asks again with backoff until it takes the channel', async () => {
      fake.refusals = ['unavailable', 'rate_limited'];
      const held = holdChannel(client, 'room:1');
      await jest.advanceTimersByTimeAsync(3_100);
      await expect(held.current()).resolves.toBeDefined();
      expect(fake.calls).toEqual([
        'subscribe room:1',
        'subscribe room:1',
        'subscribe room:1',
      ]);
    });

    it('asks again when a reconnect or refresh takes a held channel out', async () => {
      const held = holdChannel(client, 'room:1');
      await held.current();
      const changed = jest.fn();
      held.watch(changed);
      fake.refuse([{ channel: 'room:1', error: 'unavailable' }]);
      expect(changed).toHaveBeenCalledTimes(1);
      await jest.advanceTimersByTimeAsync(1_100);
      await expect(held.current()).resolves.toBeDefined();
      expect(fake.calls).toEqual(['subscribe room:1', 'subscribe room:1']);
    });
  });

  describe('when the server refuses for good', () => {
    it('shows why, lets the channel go, and a later holder tries anew', async () => {
      const held = holdChannel(client, 'room:1');
      await held.current();
      fake.refuse([{ channel: 'room:1', error: 'forbidden' }]);
      await expect(held.current()).rejects.toMatchObject({
        error: 'forbidden',
        channel: 'room:1',
      });
      held.release(fail);
      await jest.advanceTimersByTimeAsync(10);
      const later = holdChannel(client, 'room:1');
      await expect(later.current()).resolves.toBeDefined();
      expect(fake.calls).toEqual(['subscribe room:1', 'subscribe room:1']);
    });
  });
});
