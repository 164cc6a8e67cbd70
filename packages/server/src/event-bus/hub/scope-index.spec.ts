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
            const index = new ScopeIndex<{ scopes: string[]; n: number }>();
            const members = holdings.map((h, n) => ({ scopes: h, n }));
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
      const index = new ScopeIndex<{ scopes: string[] }>();
      const member = { scopes: ['agent:a'] };
      index.add(member);
      index.remove(member);
      const visited: unknown[] = [];
      index.forEachAudience(event(['agent:a']), (m) => visited.push(m));
      index.forEachAudience(event([]), (m) => visited.push(m));
      expect(visited).toEqual([]);
      expect(index.size).toBe(0);
    });
  });

  describe('when members come and go', () => {
    it('visits exactly the members present that the scope rule allows, each once', () => {
      const scope = fc.constantFrom('user:1', 'user:2', 'agent:a', '*');
      fc.assert(
        fc.property(
          fc.array(fc.uniqueArray(scope, { maxLength: 3 }), {
            minLength: 1,
            maxLength: 8,
          }),
          fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 30 }),
          fc.uniqueArray(
            scope.filter((s) => s !== '*'),
            { maxLength: 2 },
          ),
          (holdings, steps, eventScopes) => {
            const index = new ScopeIndex<{ scopes: string[]; n: number }>();
            const members = holdings.map((h, n) => ({ scopes: h, n }));
            const present = new Set<number>();
            for (const [add, pick] of steps) {
              const member = members[pick % members.length];
              if (add && !present.has(member.n)) {
                index.add(member);
                present.add(member.n);
              } else if (!add && present.has(member.n)) {
                index.remove(member);
                present.delete(member.n);
              }
            }
            const visited: number[] = [];
            index.forEachAudience(event(eventScopes), (m) => visited.push(m.n));
            const expected = members
              .filter(
                (m) => present.has(m.n) && isVisibleTo(eventScopes, m.scopes),
              )
              .map((m) => m.n);
            expect(visited.sort((a, b) => a - b)).toEqual(expected);
            expect(index.size).toBe(present.size);
          },
        ),
      );
    });
  });
});
