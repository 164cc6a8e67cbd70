import fc from 'fast-check';
import { StoredEvent } from '../domain/event';
import { isVisibleTo } from '../domain/scope';
import { ScopeIndex } from './scope-index';

const event = (scopes: string[]): StoredEvent => ({
  id: 'e:1-0',
  type: 't',
  data: null,
  scopes,
  ts: 0,
});

describe('ScopeIndex', () => {
  describe('when members hold different scopes', () => {
    it('visits exactly the members the scope rule allows, each once', () => {
      const scope = fc.constantFrom(
        'agent:a',
        'agent:b',
        'role:operator',
        '*',
        'process:1',
      );
      fc.assert(
        fc.property(
          fc.array(fc.uniqueArray(scope, { maxLength: 3 }), { maxLength: 12 }),
          fc.uniqueArray(
            scope.filter((s) => s !== '*'),
            { maxLength: 3 },
          ),
          (holdings, eventScopes) => {
            const index = new ScopeIndex<{ scopes: Set<string>; n: number }>();
            const members = holdings.map((h, n) => ({ scopes: new Set(h), n }));
            members.forEach((m) => index.add(m));
            const visited: number[] = [];
            index.forEachAudience(event(eventScopes), (m) => visited.push(m.n));
            const expected = members
              .filter((m) => isVisibleTo(eventScopes, m.scopes))
              .map((m) => m.n);
            expect(visited.sort((a, b) => a - b)).toEqual(expected);
          },
        ),
      );
    });
  });

  describe('when a member is removed', () => {
    it('never visits it again', () => {
      const index = new ScopeIndex<{ scopes: Set<string> }>();
      const member = { scopes: new Set(['agent:a']) };
      index.add(member);
      index.remove(member);
      const visited: unknown[] = [];
      index.forEachAudience(event(['agent:a']), (m) => visited.push(m));
      index.forEachAudience(event([]), (m) => visited.push(m));
      expect(visited).toEqual([]);
      expect(index.size).toBe(0);
    });
  });
});
