import { ChannelAuthorizer } from '../../access/channel-authorizer.port';
import { resolveEventsGatewayOptions } from '../events-gateway.options';
import { ChannelPermissions } from './channel-permissions';

const principal = { userId: 'u1' };
const options = resolveEventsGatewayOptions({ maxChannelsPerConnection: 3 });

/** A hand-written authorizer: grants `doc:*` but `doc:down`, which throws. */
class FakeAuthorizer implements ChannelAuthorizer {
  asked: string[] = [];
  async authorize(_principal: unknown, channel: string): Promise<boolean> {
    this.asked.push(channel);
    if (channel === 'doc:down') throw new Error('database down');
    return channel.startsWith('doc:');
  }
}

describe('ChannelPermissions', () => {
  describe('when a channel is in the scopes or the scopes hold *', () => {
    it('grants it without asking the authorizer', async () => {
      const authorizer = new FakeAuthorizer();
      const permissions = new ChannelPermissions(options, authorizer);
      expect(await permissions.check(principal, ['agent:a'], 'agent:a')).toBe(
        'scope',
      );
      expect(await permissions.check(principal, ['*'], 'anything')).toBe(
        'scope',
      );
      expect(authorizer.asked).toEqual([]);
    });
  });

  describe('when the authorizer decides', () => {
    it('answers grant, forbidden, and unavailable (never forbidden) when it throws', async () => {
      const permissions = new ChannelPermissions(options, new FakeAuthorizer());
      expect(await permissions.check(principal, [], 'doc:42')).toBe('grant');
      expect(await permissions.check(principal, [], 'room:1')).toBe(
        'forbidden',
      );
      expect(await permissions.check(principal, [], 'doc:down')).toBe(
        'unavailable',
      );
      expect(permissions.stats).toMatchObject({ forbidden: 1, unavailable: 1 });
    });

    it('forbids what the scopes do not give when there is no authorizer', async () => {
      const permissions = new ChannelPermissions(options, null);
      expect(await permissions.check(principal, ['a'], 'b')).toBe('forbidden');
    });
  });

  describe('the handshake', () => {
    const permissions = new ChannelPermissions(options, new FakeAuthorizer());

    it('is unfiltered when no channels were sent', async () => {
      expect(await permissions.checkHandshake(principal, [], undefined)).toBe(
        null,
      );
      expect(await permissions.checkHandshake(principal, [], null)).toBe(null);
    });

    it('opens with an empty set, never everything, when channels is not an array', async () => {
      expect(
        await permissions.checkHandshake(principal, ['*'], 'agent:a'),
      ).toEqual({
        channels: [],
        grants: [],
        refused: [{ channel: '', error: 'invalid' }],
      });
    });

    it('answers every entry: accepted, granted, or refused with why, past the limit too_many_channels', async () => {
      expect(
        await permissions.checkHandshake(
          principal,
          ['agent:a'],
          ['agent:a', 'doc:1', 'doc:down', 'agent:a', 7, 'room:1', 'doc:2'],
        ),
      ).toEqual({
        channels: ['agent:a', 'doc:1'],
        grants: ['doc:1'],
        refused: [
          { channel: '', error: 'invalid' },
          { channel: 'room:1', error: 'too_many_channels' },
          { channel: 'doc:2', error: 'too_many_channels' },
          { channel: 'doc:down', error: 'unavailable' },
        ],
      });
    });
  });
});
