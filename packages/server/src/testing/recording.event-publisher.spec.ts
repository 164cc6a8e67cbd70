import { InvalidEventError } from '../event-bus/domain/event';
import { RecordingEventPublisher } from './recording.event-publisher';

describe('RecordingEventPublisher', () => {
  describe('when events are ephemeral', () => {
    it('records them apart from the log’s events, resolves with null, and validates as the real one', async () => {
      const publisher = new RecordingEventPublisher();
      expect(
        await publisher.publish({
          type: 'typing',
          data: 1,
          scopes: ['room:1'],
          delivery: 'ephemeral',
        }),
      ).toBeNull();
      expect(
        await publisher.publishMany([
          { type: 'typing', data: 2, delivery: 'ephemeral' },
        ]),
      ).toEqual([null]);
      expect(publisher.events).toEqual([]);
      expect(publisher.ephemeral.map((e) => e.data)).toEqual([1, 2]);
      await expect(
        publisher.publishMany([
          { type: 'a', data: 1 },
          { type: 'b', data: 2, delivery: 'ephemeral' },
        ] as never),
      ).rejects.toMatchObject({ field: '[1].delivery' });
      await expect(
        publisher.publish({
          type: 'process_message',
          data: 1,
          delivery: 'ephemeral',
        }),
      ).rejects.toBeInstanceOf(InvalidEventError);
    });
  });
});
