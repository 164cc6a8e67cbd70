import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidProcessMessageError } from './process-messages.errors';
import {
  MAX_READ_LIMIT,
  MAX_TURN,
  PROCESS_STATUSES,
  assertProcessId,
  assertProcessStatus,
  isTerminalStatus,
  isValidProcessId,
  validateNewProcessMessage,
  validateReadOptions,
} from './process-message';

function rejection(run: () => unknown): InvalidProcessMessageError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidProcessMessageError);
    return error as InvalidProcessMessageError;
  }
  throw new Error('expected an InvalidProcessMessageError');
}

describe('validateNewProcessMessage', () => {
  describe('when the message is well-formed', () => {
    it('returns it with every field it had', () => {
      const message = {
        type: 'tool_call',
        turn: 0,
        agent: 'coder',
        model: 'm-1',
        payload: { a: [1] },
      };
      expect(validateNewProcessMessage(message)).toEqual(message);
    });

    it('leaves out optional fields that are missing or null and drops unknown fields', () => {
      const result = validateNewProcessMessage({
        type: 'text',
        turn: null,
        agent: undefined,
        payload: null,
        seq: 9,
      });
      expect(result).toStrictEqual({ type: 'text', payload: null });
    });

    it.each([
      null,
      'text',
      0,
      false,
      [],
      { nested: { list: [1, 'two', null] } },
      'ünï©ødé 🚀',
    ])('accepts the JSON payload %p', (payload) => {
      expect(validateNewProcessMessage({ type: 'x', payload }).payload).toBe(
        payload,
      );
    });
  });

  describe('when the body is not an object', () => {
    it.each([null, 'text', [], 3])('rejects %p naming the message', (body) => {
      expect(rejection(() => validateNewProcessMessage(body)).field).toBe(
        'message',
      );
    });

    it('names the path when one is given', () => {
      expect(
        rejection(() => validateNewProcessMessage(null, '[3]')).field,
      ).toBe('[3]');
    });
  });

  describe('when the type is malformed', () => {
    it.each([undefined, '', '1abc', 'has space', 'a'.repeat(129), 7])(
      'rejects %p',
      (type) => {
        const error = rejection(() =>
          validateNewProcessMessage({ type, payload: null }),
        );
        expect(error.field).toBe('type');
        expect(error.message).toMatch(/^type must be a string matching/);
      },
    );
  });

  describe('when the turn is not a non-negative integer', () => {
    it('says so and quotes what it got', () => {
      const error = rejection(() =>
        validateNewProcessMessage({ type: 't', turn: 'x', payload: 1 }),
      );
      expect(error.field).toBe('turn');
      expect(error.message).toBe(
        'turn must be a non-negative integer (got "x").',
      );
    });

    it.each([-1, 1.5, Number.NaN, Infinity, MAX_TURN + 1])(
      'rejects %p',
      (turn) => {
        expect(
          rejection(() =>
            validateNewProcessMessage({ type: 't', turn, payload: 1 }),
          ).field,
        ).toBe('turn');
      },
    );
  });

  describe('when agent or model is not a usable label', () => {
    it.each([
      ['agent', ''],
      ['agent', 'a'.repeat(257)],
      ['model', 5],
      ['model', 'nul\u0000byte'],
    ])('rejects %s = %p', (field, value) => {
      expect(
        rejection(() =>
          validateNewProcessMessage({ type: 't', [field]: value, payload: 1 }),
        ).field,
      ).toBe(field);
    });

    it('accepts 256 characters', () => {
      expect(
        validateNewProcessMessage({
          type: 't',
          agent: 'a'.repeat(256),
          payload: 1,
        }).agent,
      ).toHaveLength(256);
    });
  });

  describe('when the payload would not come back deep-equal', () => {
    it.each([
      ['missing', undefined, 'payload'],
      ['a function', { f: () => 1 }, 'payload.f'],
      ['a Date', { at: new Date() }, 'payload.at'],
      ['NaN', [1, Number.NaN], 'payload[1]'],
      ['a bigint', { n: 1n }, 'payload.n'],
      ['undefined in an array', [undefined], 'payload[0]'],
      ['a NUL character', { text: 'a\u0000b' }, 'payload.text'],
      ['a lone surrogate', ['\uD800'], 'payload[0]'],
      ['a lone surrogate in a key', { '\uDC00': 1 }, 'payload'],
    ])('rejects %s and names the field', (_label, payload, field) => {
      expect(
        rejection(() => validateNewProcessMessage({ type: 't', payload }))
          .field,
      ).toBe(field);
    });

    it('rejects nesting deeper than 64 levels', () => {
      let payload: unknown = 1;
      for (let i = 0; i < 70; i++) payload = [payload];
      expect(
        rejection(() => validateNewProcessMessage({ type: 't', payload }))
          .message,
      ).toMatch(/deeper than 64/);
    });

    it('prefixes the field with the path', () => {
      expect(
        rejection(() =>
          validateNewProcessMessage(
            { type: 't', turn: -1, payload: 1 },
            'messages[2]',
          ),
        ).field,
      ).toBe('messages[2].turn');
    });
  });
});

describe('process ids', () => {
  it.each(['a', '0', 'run-1', 'org:run_2.3', 'a'.repeat(128)])(
    'accepts %p',
    (id) => {
      expect(isValidProcessId(id)).toBe(true);
    },
  );

  it.each(['', '-a', '_a', 'a b', 'a/b', '{a}', 'a'.repeat(129), 5, null])(
    'rejects %p',
    (id) => {
      expect(isValidProcessId(id)).toBe(false);
      expect(rejection(() => assertProcessId(id)).field).toBe('processId');
    },
  );
});

describe('statuses', () => {
  it('lists running and the three terminal statuses', () => {
    expect(PROCESS_STATUSES).toEqual([
      'running',
      'completed',
      'failed',
      'cancelled',
    ]);
    expect(PROCESS_STATUSES.filter(isTerminalStatus)).toEqual([
      'completed',
      'failed',
      'cancelled',
    ]);
    expect(isTerminalStatus(null)).toBe(false);
  });

  it('rejects an unknown status naming the field', () => {
    expect(rejection(() => assertProcessStatus('done')).field).toBe('status');
  });
});

describe('validateReadOptions', () => {
  it('accepts the bounds', () => {
    expect(validateReadOptions({ after: 0, limit: 1 })).toEqual({
      after: 0,
      limit: 1,
    });
    expect(validateReadOptions({ after: 5, limit: MAX_READ_LIMIT })).toEqual({
      after: 5,
      limit: MAX_READ_LIMIT,
    });
  });

  it.each([
    [{ after: -1, limit: 10 }, 'after'],
    [{ after: 1.5, limit: 10 }, 'after'],
    [{ after: '3', limit: 10 }, 'after'],
    [{ limit: 10 }, 'after'],
    [{ after: 0, limit: 0 }, 'limit'],
    [{ after: 0, limit: MAX_READ_LIMIT + 1 }, 'limit'],
    [{ after: 0 }, 'limit'],
    [undefined, 'after'],
  ])('rejects %p naming %s', (options, field) => {
    expect(rejection(() => validateReadOptions(options)).field).toBe(field);
  });
});

describe('the domain folder', () => {
  it('imports no framework, driver or layer outside the domains', () => {
    // The event-bus domain is plain TypeScript too; anything else up the tree is not.
    const forbidden =
      /from '(@nestjs\/[^']*|ioredis|pg|socket\.io[^']*|express|\.\.\/(?!\.\.\/event-bus\/domain\/)[^']*)'/;
    for (const file of readdirSync(__dirname).filter(
      (name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'),
    )) {
      expect({
        file,
        match:
          forbidden.exec(readFileSync(join(__dirname, file), 'utf8'))?.[0] ??
          null,
      }).toEqual({
        file,
        match: null,
      });
    }
  });
});
