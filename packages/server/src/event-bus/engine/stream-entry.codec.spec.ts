import { decodeEntry, encodeEntry, ENTRY_FORMAT } from './stream-entry.codec';

const ID = '1795910863460-7';

describe('decodeEntry', () => {
  it('decodes what encodeEntry writes', () => {
    const fields = encodeEntry(
      { type: 'thing.done', data: { n: 1, s: 'x' }, scopes: ['tenant:a'] },
      1_700_000_000_000,
    );
    expect(decodeEntry('e1', ID, fields)).toEqual({
      ok: true,
      event: {
        id: `e1:${ID}`,
        type: 'thing.done',
        data: { n: 1, s: 'x' },
        scopes: ['tenant:a'],
        ts: 1_700_000_000_000,
      },
    });
  });

  it('parses the payload of a format 2 entry only when it is read', () => {
    const parse = jest.spyOn(JSON, 'parse');
    try {
      const decoded = decodeEntry('e1', ID, [
        ...['type', 't', 'data', '{"lazy":true}', 'scopes', '[]'],
        ...['v', ENTRY_FORMAT],
      ]);
      expect(parse.mock.calls.flat()).not.toContain('{"lazy":true}');
      expect(decoded.ok && decoded.event.data).toEqual({ lazy: true });
      expect(decoded.ok && decoded.event.data).toBe(
        decoded.ok && decoded.event.data,
      );
    } finally {
      parse.mockRestore();
    }
  });

  it('names the entry when a payload marked format 2 is not JSON', () => {
    const decoded = decodeEntry('e1', ID, [
      ...['type', 't', 'data', '{nope', 'v', ENTRY_FORMAT],
    ]);
    expect(() => decoded.ok && decoded.event.data).toThrow(
      `Log entry e1:${ID} is marked as written by streamgate`,
    );
  });

  it('takes the last value of a field given twice, and ignores unknown fields', () => {
    const decoded = decodeEntry('e1', ID, [
      'type',
      'first',
      'data',
      '1',
      'extra',
      'ignored',
      'type',
      'second',
      'data',
      '{"a":2}',
      'scopes',
      '["x"]',
      'scopes',
      '[]',
    ]);
    expect(decoded).toEqual({
      ok: true,
      event: {
        id: `e1:${ID}`,
        type: 'second',
        data: { a: 2 },
        scopes: [],
        ts: 1795910863460,
      },
    });
  });

  it('takes the time from the stream id when there is no ts field, and no scopes as none', () => {
    const decoded = decodeEntry('e1', ID, ['type', 't', 'data', 'null']);
    expect(decoded).toMatchObject({
      ok: true,
      event: { ts: 1795910863460, scopes: [], data: null },
    });
  });

  it.each([
    [['data', '{}'], 'field "type" is missing or not a valid event type'],
    [['type', '1bad', 'data', '{}'], 'field "type" is missing'],
    [['type', 't'], 'field "data" is missing'],
    [['type', 't', 'data', '{nope'], 'field "data" is not valid JSON'],
    [
      ['type', 't', 'data', '{}', 'scopes', '[x'],
      'field "scopes" is not a JSON array',
    ],
    [
      ['type', 't', 'data', '{}', 'scopes', '{"a":1}'],
      'field "scopes" is not a JSON array of non-empty strings',
    ],
    [
      ['type', 't', 'data', '{}', 'scopes', '["ok",""]'],
      'field "scopes" is not a JSON array of non-empty strings',
    ],
    [
      ['type', 't', 'data', '{}', 'ts', '-1'],
      'field "ts" is not a non-negative integer',
    ],
    [
      ['type', 't', 'data', '{}', 'ts', '1.5'],
      'field "ts" is not a non-negative integer',
    ],
  ])('refuses %j: %s', (fields, error) => {
    const decoded = decodeEntry('e1', ID, fields);
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.error).toContain(error);
  });

  it('checks every scopes text that differs from the last valid one', () => {
    const valid = ['type', 't', 'data', '{}', 'scopes', '["a","b"]'];
    expect(decodeEntry('e1', ID, valid).ok).toBe(true);
    expect(decodeEntry('e1', ID, valid).ok).toBe(true);
    // Same strings, other text: checked again, and a bad one is refused.
    expect(
      decodeEntry('e1', ID, [
        'type',
        't',
        'data',
        '{}',
        'scopes',
        '["a", " b"]',
      ]).ok,
    ).toBe(false);
    expect(decodeEntry('e1', ID, valid).ok).toBe(true);
    // Each event gets its own array, even when the text repeats.
    const a = decodeEntry('e1', ID, valid);
    const b = decodeEntry('e1', ID, valid);
    expect(a.ok && b.ok && a.event.scopes !== b.event.scopes).toBe(true);
  });
});
