import {
  InvalidEventError,
  validateNewEvent,
  validateNewEvents,
} from './event';

describe('validateNewEvent', () => {
  // First in this file: no type has passed yet in this module instance.
  it('refuses an empty type as the first event it checks', () => {
    expect(() => validateNewEvent({ type: '', data: null })).toThrow(
      /type must be a string matching/,
    );
  });

  it('refuses a bad type whatever type passed before it', () => {
    for (const type of [
      'good.type',
      '',
      'good.type ',
      '1bad',
      'a'.repeat(129),
    ]) {
      // A valid event first, so that a remembered type cannot let a bad one through.
      expect(validateNewEvent({ type: 'good.type', data: null }).type).toBe(
        'good.type',
      );
      if (type === 'good.type') continue;
      expect(() => validateNewEvent({ type, data: null })).toThrow(
        /type must be a string matching/,
      );
    }
    expect(() => validateNewEvent({ type: 7, data: null })).toThrow(
      InvalidEventError,
    );
  });

  it('returns scopes without duplicates, as a new array', () => {
    const one = ['a'];
    const single = validateNewEvent({ type: 't', data: 1, scopes: one });
    expect(single.scopes).toEqual(['a']);
    expect(single.scopes).not.toBe(one);
    expect(
      validateNewEvent({ type: 't', data: 1, scopes: ['a', 'b', 'a'] }).scopes,
    ).toEqual(['a', 'b']);
    expect(
      validateNewEvent({ type: 't', data: 1, scopes: ['a', 'a'] }).scopes,
    ).toEqual(['a']);
    expect(validateNewEvent({ type: 't', data: 1 }).scopes).toEqual([]);
    expect(validateNewEvent({ type: 't', data: 1, scopes: [] }).scopes).toEqual(
      [],
    );
  });

  it('names the event of a batch whose data cannot travel as JSON', () => {
    expect(() =>
      validateNewEvents([
        { type: 't', data: { ok: 1 } },
        { type: 't', data: { n: Number.NaN } },
      ]),
    ).toThrow(expect.objectContaining({ field: '[1].data.n' }));
  });
});
