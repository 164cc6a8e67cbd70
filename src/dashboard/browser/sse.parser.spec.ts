import { SseParser } from './sse.parser';

describe('SseParser', () => {
  describe('when a stream arrives in one piece', () => {
    it('dispatches events with their type, data and last id', () => {
      const parser = new SseParser();
      const events = parser.push(
        'retry: 2000\n\nid: 1\nevent: message\ndata: {"seq":1}\n\n: heartbeat\n\nevent: status\ndata: {"status":"running"}\n\n',
      );
      expect(events).toEqual([
        { event: 'message', data: '{"seq":1}', lastEventId: '1' },
        { event: 'status', data: '{"status":"running"}', lastEventId: '1' },
      ]);
      expect(parser.retryMs).toBe(2000);
    });
  });

  describe('when a stream arrives in arbitrary chunks', () => {
    it('gives the same events whatever the split, CRLF included', () => {
      const text =
        'id: 7\r\nevent: message\r\ndata: a\r\ndata: b\r\n\r\ndata:c\r\r\n';
      const whole = new SseParser().push(text);
      for (let size = 1; size <= 5; size++) {
        const parser = new SseParser();
        const events = [];
        for (let i = 0; i < text.length; i += size)
          events.push(...parser.push(text.slice(i, i + size)));
        expect(events).toEqual(whole);
      }
      expect(whole).toEqual([
        { event: 'message', data: 'a\nb', lastEventId: '7' },
        { event: 'message', data: 'c', lastEventId: '7' },
      ]);
    });
  });

  describe('when a block has no data', () => {
    it('dispatches nothing but keeps the id', () => {
      const parser = new SseParser();
      expect(parser.push('id: 3\nevent: status\n\n')).toEqual([]);
      expect(parser.lastEventId).toBe('3');
    });
  });
});
