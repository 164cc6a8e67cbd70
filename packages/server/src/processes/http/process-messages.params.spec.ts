import { InvalidProcessMessageError } from '../domain/process-messages.errors';
import { parseCursor, parseLimit, readModeOf } from './process-messages.params';

function fieldOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidProcessMessageError);
    return (error as InvalidProcessMessageError).field;
  }
  throw new Error('expected an InvalidProcessMessageError');
}

describe('readModeOf', () => {
  it.each([
    ['text/event-stream', 'sse'],
    ['application/x-ndjson', 'ndjson'],
    ['application/x-ndjson, text/event-stream', 'sse'],
    ['application/json', 'json'],
    ['*/*', 'json'],
    [undefined, 'json'],
  ])('maps %p to %s', (accept, mode) => {
    expect(readModeOf(accept)).toBe(mode);
  });
});

describe('parseCursor', () => {
  describe('when Last-Event-ID is present', () => {
    it('wins over ?after=, as on an EventSource reconnect', () => {
      expect(parseCursor('12', '3')).toEqual({
        after: 12,
        field: 'Last-Event-ID',
      });
    });

    it('counts as absent when empty', () => {
      expect(parseCursor('', '3')).toEqual({ after: 3, field: 'after' });
    });

    it.each(['-1', '1.5', 'abc', '1e3', '99999999999999999'])(
      'rejects %p',
      (value) => {
        expect(fieldOf(() => parseCursor(value, undefined))).toBe(
          'Last-Event-ID',
        );
      },
    );
  });

  describe('when only ?after= is given', () => {
    it('reads it, and defaults to 0', () => {
      expect(parseCursor(undefined, '0')).toEqual({ after: 0, field: 'after' });
      expect(parseCursor(undefined, undefined)).toEqual({
        after: 0,
        field: 'after',
      });
    });

    it.each(['', '-3', ' 1', ['1', '2'], { a: 1 }])('rejects %p', (value) => {
      expect(fieldOf(() => parseCursor(undefined, value))).toBe('after');
    });
  });
});

describe('parseLimit', () => {
  it('defaults to 100 and accepts 1 to 1000', () => {
    expect(parseLimit(undefined)).toBe(100);
    expect(parseLimit('1')).toBe(1);
    expect(parseLimit('1000')).toBe(1000);
  });

  it.each(['0', '1001', '', 'x', '2.5', ['5']])('rejects %p', (value) => {
    expect(fieldOf(() => parseLimit(value))).toBe('limit');
  });
});
