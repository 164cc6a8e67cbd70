import { maxVectorCursorLength } from '@streamgate/protocol';
import {
  asCursor,
  parseChannelsAck,
  parseEnvelope,
  parseEphemeral,
  parseEvictedInfo,
  parseHistoryAck,
  parsePresenceAck,
  parsePresenceChange,
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

describe('the channel additions', () => {
  describe('when ready carries channels and refusals', () => {
    it('keeps them, and leaves them out when absent', () => {
      const base = { recovered: true, replayed: 0, lastEventId: 'a:1-0' };
      expect(
        parseReadyInfo({
          ...base,
          channels: ['doc:1'],
          refused: [{ channel: 'doc:2', error: 'forbidden' }],
        }),
      ).toEqual({
        ok: true,
        value: {
          ...base,
          channels: ['doc:1'],
          refused: [{ channel: 'doc:2', error: 'forbidden' }],
        },
      });
      expect(parseReadyInfo({ ...base, channels: null })).toEqual({
        ok: true,
        value: { ...base, channels: null },
      });
      expect(parseReadyInfo(base)).toEqual({ ok: true, value: base });
    });

    it.each<[string, unknown]>([
      ['channels not a list', { channels: 'doc:1' }],
      ['a channel not a string', { channels: [1] }],
      ['refused not a list', { refused: {} }],
      ['a refusal without error', { refused: [{ channel: 'x' }] }],
    ])('refuses %s', (_name, extra) => {
      expect(
        parseReadyInfo({
          recovered: true,
          replayed: 0,
          lastEventId: null,
          ...(extra as object),
        }).ok,
      ).toBe(false);
    });
  });

  describe('when an acknowledgement arrives', () => {
    it('reads a subscribe answer and a refusal', () => {
      expect(
        parseChannelsAck({ ok: true, channels: ['a'], position: 'e:1-0' }),
      ).toEqual({
        ok: true,
        value: { ok: true, value: { channels: ['a'], position: 'e:1-0' } },
      });
      expect(
        parseChannelsAck({ ok: false, error: 'forbidden', channel: 'a' }),
      ).toEqual({
        ok: true,
        value: { ok: false, error: 'forbidden', channel: 'a' },
      });
      expect(parseChannelsAck({ ok: true, channels: ['a'] }).ok).toBe(false);
      expect(parseChannelsAck({ ok: false }).ok).toBe(false);
      expect(parseChannelsAck(undefined).ok).toBe(false);
    });

    it('checks every history event and the next cursor', () => {
      const event = { id: 'e:1-0', type: 't', data: 1, ts: 1 };
      expect(
        parseHistoryAck({ ok: true, events: [event], next: null }),
      ).toEqual({
        ok: true,
        value: { ok: true, value: { events: [event], next: null } },
      });
      expect(
        parseHistoryAck({
          ok: true,
          events: [{ ...event, id: 'x' }],
          next: null,
        }).ok,
      ).toBe(false);
      expect(parseHistoryAck({ ok: true, events: [], next: 'x' }).ok).toBe(
        false,
      );
    });

    it('reads presence members and whether the list was cut', () => {
      expect(
        parsePresenceAck({
          ok: true,
          members: [{ userId: 'ada', connections: 2, info: { name: 'Ada' } }],
          truncated: true,
        }),
      ).toEqual({
        ok: true,
        value: {
          ok: true,
          value: {
            members: [{ userId: 'ada', connections: 2, info: { name: 'Ada' } }],
            truncated: true,
          },
        },
      });
      expect(
        parsePresenceAck({ ok: true, members: [{ userId: 'ada' }] }).ok,
      ).toBe(false);
    });
  });

  describe('when server messages arrive', () => {
    it('reads presence_changed', () => {
      expect(
        parsePresenceChange({
          channel: 'r',
          joined: [{ userId: 'a', info: 1 }],
          left: ['b'],
        }),
      ).toEqual({
        ok: true,
        value: {
          channel: 'r',
          joined: [{ userId: 'a', info: 1 }],
          left: ['b'],
        },
      });
      expect(
        parsePresenceChange({ channel: 'r', joined: [], left: [1] }).ok,
      ).toBe(false);
    });

    it('reads an ephemeral event, which has no id', () => {
      expect(
        parseEphemeral({ type: 't', data: 1, ts: 2, from: 'ada', id: 'e:1-0' }),
      ).toEqual({
        ok: true,
        value: { type: 't', data: 1, ts: 2, from: 'ada' },
      });
      expect(parseEphemeral({ type: '', data: 1, ts: 2 }).ok).toBe(false);
      expect(parseEphemeral({ type: 't', data: 1, ts: 2, from: 3 }).ok).toBe(
        false,
      );
    });
  });
});

describe('a partitioned log', () => {
  const vector =
    'v2.7f3a.64|3:3f9c2a7b1d0e:1732200000000-0|17:8b21c4e0aa19:1732199999000-4';

  function elements(count: number): string {
    let text = `v2.ab.${count}`;
    for (let k = 0; k < count; k++) text += `|${k}:e1:1732200000000-${k}`;
    return text;
  }

  describe('when events carry partitioned ids', () => {
    it('accepts <k>:<epoch>:<ms>-<seq> beside today’s ids', () => {
      const event = { id: '17:e1:5-0', type: 't', data: 1, ts: 1 };
      expect(parseEnvelope(event)).toEqual({ ok: true, value: event });
      expect(parseEnvelope({ ...event, id: 'e1:5-0' }).ok).toBe(true);
    });

    it.each([
      ['a partition with a leading zero', '07:e1:5-0'],
      ['a partition past 9999', '10000:e1:5-0'],
      ['an uppercase epoch', '1:E1:5-0'],
      ['no stream id', '1:e1:'],
      ['a vector', 'v2.ab.4|1:e1:5-0'],
    ])('rejects %s and names both forms', (_case, id) => {
      const parsed = parseEnvelope({ id, type: 't', data: 1, ts: 1 });
      expect(parsed).toEqual({
        ok: false,
        problem: expect.stringContaining('<k>:<epoch>:<ms>-<seq>'),
      });
    });
  });

  describe('when ready or resync_required carries a vector', () => {
    it('keeps the whole vector as the cursor', () => {
      expect(
        parseReadyInfo({ recovered: true, replayed: 2, lastEventId: vector }),
      ).toEqual({
        ok: true,
        value: { recovered: true, replayed: 2, lastEventId: vector },
      });
      expect(
        parseResyncInfo({ reason: 'epoch_changed', lastEventId: vector }),
      ).toEqual({
        ok: true,
        value: { reason: 'epoch_changed', lastEventId: vector },
      });
    });

    it('accepts a vector with no element and one with every partition', () => {
      const full = elements(1024);
      for (const lastEventId of ['v2.ab.64', full]) {
        expect(
          parseReadyInfo({ recovered: false, replayed: 0, lastEventId }).ok,
        ).toBe(true);
      }
    });

    it.each([
      ['a bad header', 'v2.AB.4|1:e1:5-0', 'does not start with'],
      ['a partition past P', 'v2.ab.4|4:e1:5-0', 'partition 4'],
      ['a repeated partition', 'v2.ab.4|1:e1:5-0|1:e1:6-0', 'again'],
      ['a malformed element', 'v2.ab.4|1:e1:5', 'Element 1'],
      ['more elements than P', `${elements(2)}|2:e1:1-0`, 'elements'],
      [
        'a text longer than any cursor',
        `v2.ab.4|${'1'.repeat(maxVectorCursorLength(1024))}`,
        'characters',
      ],
    ])(
      'refuses %s, saying why without echoing it all',
      (_case, lastEventId, why) => {
        const parsed = parseReadyInfo({
          recovered: true,
          replayed: 0,
          lastEventId,
        });
        expect(parsed.ok).toBe(false);
        const { problem } = parsed as { problem: string };
        expect(problem).toContain('"lastEventId" is not a valid vector cursor');
        expect(problem).toContain(why);
        expect(problem.length).toBeLessThan(300);
        expect(parseResyncInfo({ reason: 'trimmed', lastEventId }).ok).toBe(
          false,
        );
      },
    );
  });

  describe('when a cursor store holds a cursor', () => {
    it('takes today’s ids and well-formed vectors, and nothing else', () => {
      expect(asCursor('e1:5-0')).toBe('e1:5-0');
      expect(asCursor(vector)).toBe(vector);
      expect(asCursor('v2.ab.4|9:e1:5-0')).toBeNull();
      expect(asCursor('1:e1:5-0')).toBeNull();
      expect(asCursor(null)).toBeNull();
      expect(asCursor(42)).toBeNull();
    });
  });

  describe('when channel answers name positions', () => {
    it('accepts a vector position and a partitioned next', () => {
      expect(
        parseChannelsAck({ ok: true, channels: ['a'], position: vector }).ok,
      ).toBe(true);
      expect(
        parseHistoryAck({ ok: true, events: [], next: '3:e1:5-0' }).ok,
      ).toBe(true);
      expect(
        parseChannelsAck({ ok: true, channels: ['a'], position: 'v2.ab' }).ok,
      ).toBe(false);
    });
  });
});
