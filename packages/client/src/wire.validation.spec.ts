import {
  parseEnvelope,
  parseEvictedInfo,
  parseReadyInfo,
  parseResyncInfo,
} from './wire.validation';

describe('parseEnvelope', () => {
  describe('when the envelope is well-formed', () => {
    it('returns id, type, data and ts only', () => {
      const parsed = parseEnvelope({
        id: 'a:1-0',
        type: 'agent_activity',
        data: { x: 1 },
        ts: 1700000000000,
        extra: true,
      });
      expect(parsed).toEqual({
        ok: true,
        value: {
          id: 'a:1-0',
          type: 'agent_activity',
          data: { x: 1 },
          ts: 1700000000000,
        },
      });
    });

    it('accepts null data', () => {
      expect(
        parseEnvelope({ id: 'a:1-0', type: 't', data: null, ts: 1 }).ok,
      ).toBe(true);
    });
  });

  describe('when the envelope is malformed', () => {
    it.each<[string, unknown]>([
      ['not an object', 'a:1-0'],
      ['null', null],
      ['an array', []],
      ['an id without epoch', { id: '1-0', type: 't', data: 1, ts: 1 }],
      ['a numeric id', { id: 1, type: 't', data: 1, ts: 1 }],
      ['an empty type', { id: 'a:1-0', type: '', data: 1, ts: 1 }],
      ['a missing type', { id: 'a:1-0', data: 1, ts: 1 }],
      ['a string ts', { id: 'a:1-0', type: 't', data: 1, ts: '1' }],
      ['a NaN ts', { id: 'a:1-0', type: 't', data: 1, ts: NaN }],
    ])('rejects %s with a reason', (_case, raw) => {
      const parsed = parseEnvelope(raw);
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.problem).toEqual(expect.any(String));
    });
  });
});

describe('parseReadyInfo', () => {
  describe('when the message is well-formed', () => {
    it('keeps the reason and the cursor', () => {
      expect(
        parseReadyInfo({
          recovered: false,
          reason: 'trimmed',
          replayed: 0,
          lastEventId: 'b:1-0',
        }),
      ).toEqual({
        ok: true,
        value: {
          recovered: false,
          reason: 'trimmed',
          replayed: 0,
          lastEventId: 'b:1-0',
        },
      });
    });

    it('accepts reasons a newer server may add', () => {
      expect(
        parseReadyInfo({
          recovered: false,
          reason: 'something_new',
          replayed: 0,
          lastEventId: null,
        }).ok,
      ).toBe(true);
    });

    it('accepts a null cursor and a missing reason', () => {
      expect(
        parseReadyInfo({ recovered: true, replayed: 3, lastEventId: null }),
      ).toEqual({
        ok: true,
        value: { recovered: true, replayed: 3, lastEventId: null },
      });
    });
  });

  describe('when the message is malformed', () => {
    it.each<[string, unknown]>([
      ['no object', undefined],
      [
        'a string recovered',
        { recovered: 'yes', replayed: 0, lastEventId: null },
      ],
      [
        'a numeric reason',
        { recovered: false, reason: 7, replayed: 0, lastEventId: null },
      ],
      [
        'a negative replayed',
        { recovered: true, replayed: -1, lastEventId: null },
      ],
      ['a missing lastEventId', { recovered: true, replayed: 0 }],
      [
        'a malformed lastEventId',
        { recovered: true, replayed: 0, lastEventId: 'x' },
      ],
    ])('rejects %s', (_case, raw) => {
      expect(parseReadyInfo(raw).ok).toBe(false);
    });
  });
});

describe('parseResyncInfo', () => {
  describe('when the message is well-formed', () => {
    it('returns reason and cursor', () => {
      expect(
        parseResyncInfo({ reason: 'trimmed', lastEventId: 'a:9-0' }),
      ).toEqual({
        ok: true,
        value: { reason: 'trimmed', lastEventId: 'a:9-0' },
      });
    });
  });

  describe('when the message is malformed', () => {
    it('rejects a missing reason or a bad cursor', () => {
      expect(parseResyncInfo({ lastEventId: null }).ok).toBe(false);
      expect(parseResyncInfo({ reason: 'x', lastEventId: 42 }).ok).toBe(false);
    });
  });
});

describe('parseEvictedInfo', () => {
  describe('when the reason is a string', () => {
    it('accepts reasons newer servers may add', () => {
      expect(parseEvictedInfo({ reason: 'something_new' })).toEqual({
        ok: true,
        value: { reason: 'something_new' },
      });
    });
  });

  describe('when the reason is missing', () => {
    it('rejects the message', () => {
      expect(parseEvictedInfo({}).ok).toBe(false);
    });
  });
});
