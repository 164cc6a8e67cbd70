import { AckBatcher } from './ack.batcher';

describe('AckBatcher', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const batches = (count: number) =>
    Array.from({ length: count }, (_, i) => ({
      ack: jest.fn(),
      lastId: `e:${i + 1}-0`,
    }));

  describe('when the server never said how often (an older server)', () => {
    it('acknowledges every batch at once', () => {
      const acks = new AckBatcher();
      const [a, b] = batches(2);
      acks.handled(a.ack, a.lastId);
      acks.handled(b.ack, b.lastId);
      expect(a.ack).toHaveBeenCalledWith('e:1-0');
      expect(b.ack).toHaveBeenCalledWith('e:2-0');
    });
  });

  describe('when ready asks for an acknowledgement every 3 batches', () => {
    it('acknowledges only the newest of each 3, with its own id', () => {
      const acks = new AckBatcher();
      acks.setEvery(3);
      const all = batches(6);
      for (const { ack, lastId } of all) acks.handled(ack, lastId);
      expect(all.map(({ ack }) => ack.mock.calls)).toEqual([
        [],
        [],
        [['e:3-0']],
        [],
        [],
        [['e:6-0']],
      ]);
    });

    it('acknowledges the newest of fewer batches once no further one follows', () => {
      const acks = new AckBatcher();
      acks.setEvery(3);
      const [a, b] = batches(2);
      acks.handled(a.ack, a.lastId);
      acks.handled(b.ack, b.lastId);
      expect(b.ack).not.toHaveBeenCalled();
      jest.runAllTimers();
      expect(a.ack).not.toHaveBeenCalled();
      expect(b.ack).toHaveBeenCalledWith('e:2-0');
    });

    it('acknowledges nothing once its connection is gone', () => {
      const acks = new AckBatcher();
      acks.setEvery(3);
      const [a] = batches(1);
      acks.handled(a.ack, a.lastId);
      acks.dispose();
      jest.runAllTimers();
      expect(a.ack).not.toHaveBeenCalled();
    });
  });

  describe('when ready names something that is not a whole number of at least 1', () => {
    it.each([0, -2, 1.5, '3', null])(
      'acknowledges every batch (%p)',
      (every) => {
        const acks = new AckBatcher();
        acks.setEvery(every);
        const [a] = batches(1);
        acks.handled(a.ack, a.lastId);
        expect(a.ack).toHaveBeenCalledWith('e:1-0');
      },
    );
  });
});
