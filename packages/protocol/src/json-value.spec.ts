import { findJsonProblem } from './json-value';

describe('findJsonProblem', () => {
  it('accepts plain JSON values, skipping undefined properties as JSON does', () => {
    for (const value of [
      null,
      true,
      0,
      -1.5,
      '',
      'text',
      [],
      {},
      { a: [1, 'x', null, { b: false }], c: undefined },
      Object.assign(Object.create(null) as object, { n: 1 }),
    ])
      expect(findJsonProblem(value, 'data')).toBeNull();
  });

  it.each([
    [{ a: [1, { b: Number.NaN }] }, 'data.a[1].b', 'non-finite number'],
    [[1, Infinity], 'data[1]', 'non-finite number'],
    [{ when: new Date(0) }, 'data.when', 'a Date object'],
    [{ f: () => 1 }, 'data.f', 'holds a function'],
    [{ big: BigInt(1) }, 'data.big', 'holds a bigint'],
    [[undefined], 'data[0]', 'holds a undefined'],
    [undefined, 'data', 'holds a undefined'],
    [new Map(), 'data', 'a Map object'],
  ])('names the first problem in %p: %s', (value, field, message) => {
    const problem = findJsonProblem(value, 'data');
    expect(problem?.field).toBe(field);
    expect(problem?.message).toContain(`${field} `);
    expect(problem?.message).toContain(message);
  });

  it('refuses values nested deeper than 64 levels', () => {
    let value: unknown = 1;
    for (let i = 0; i < 65; i++) value = [value];
    expect(findJsonProblem(value, 'data')?.message).toContain(
      'nested deeper than 64 levels',
    );
    let ok: unknown = 1;
    for (let i = 0; i < 64; i++) ok = [ok];
    expect(findJsonProblem(ok, 'data')).toBeNull();
  });

  it('applies a string rule to values and keys', () => {
    const options = {
      rejectString: (s: string) => (s.includes('\u0000') ? 'has NUL' : null),
    };
    expect(findJsonProblem({ a: ['ok', 'x\u0000'] }, 'p', options)).toEqual({
      message: 'p.a[1] has NUL',
      field: 'p.a[1]',
    });
    expect(findJsonProblem({ 'k\u0000': 1 }, 'p', options)?.message).toBe(
      'p key "k\\u0000" has NUL',
    );
    expect(findJsonProblem({ a: ['ok'] }, 'p', options)).toBeNull();
  });

  describe('when a value refers to itself', () => {
    it('calls an object that contains itself circular, naming both places', () => {
      const data: Record<string, unknown> = { a: { b: [1] } };
      (data.a as Record<string, unknown>).back = data;
      expect(findJsonProblem(data, 'data')).toEqual({
        field: 'data.a.back',
        message:
          'data.a.back is circular: it refers back to data, which JSON cannot carry.',
      });
    });

    it('calls an array that contains itself circular', () => {
      const list: unknown[] = [1];
      list.push({ list });
      expect(findJsonProblem(list, 'data')?.message).toBe(
        'data[1].list is circular: it refers back to data, which JSON cannot carry.',
      );
    });

    it('accepts the same object twice side by side, which JSON copies', () => {
      const shared = { x: 1 };
      expect(
        findJsonProblem({ a: shared, b: [shared, shared] }, 'data'),
      ).toBeNull();
    });
  });
});
