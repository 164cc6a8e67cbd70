import fc from 'fast-check';
import { ChannelIndex, ChannelMember } from './channel-index';

class Member implements ChannelMember {
  checks = 0;
  constructor(
    readonly n: number,
    readonly channels: ReadonlySet<string> | null,
    private readonly held: readonly string[],
  ) {}
  sees(scopes: readonly string[]): boolean {
    this.checks++;
    return (
      this.held.includes('*') ||
      scopes.every((scope) => this.held.includes(scope))
    );
  }
}

const SCOPES = ['a', 'b', 'c', 'd', '*'];

describe('ChannelIndex', () => {
  describe('when members subscribe to channels and hold scopes at random', () => {
    it('visits exactly the members that subscribe to one of the event scopes (any, for an unscoped event) and see it, each once', () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              channels: fc.subarray(SCOPES.slice(0, 4)),
              held: fc.subarray(SCOPES),
            }),
            { maxLength: 12 },
          ),
          fc.array(fc.constantFrom(...SCOPES.slice(0, 4)), { maxLength: 3 }),
          fc.array(fc.nat(11), { maxLength: 4 }),
          (specs, eventScopes, removed) => {
            const index = new ChannelIndex<Member>();
            const members = specs.map(
              (spec, n) => new Member(n, new Set(spec.channels), spec.held),
            );
            members.forEach((member) => index.add(member));
            const gone = new Set(removed.filter((n) => n < members.length));
            gone.forEach((n) => index.remove(members[n]));
            const visited: number[] = [];
            index.forEachAudience(eventScopes, (member) =>
              visited.push(member.n),
            );
            const expected = members
              .filter(
                (member) =>
                  !gone.has(member.n) &&
                  (eventScopes.length === 0 ||
                    eventScopes.some((scope) => member.channels!.has(scope))) &&
                  (member.sees(eventScopes) as boolean),
              )
              .map((member) => member.n);
            expect([...visited].sort((x, y) => x - y)).toEqual(expected);
            expect(index.size).toBe(members.length - gone.size);
          },
        ),
      );
    });
  });

  describe('when an event names one channel among many', () => {
    it('checks only the subscribers of that channel, not every member', () => {
      const index = new ChannelIndex<Member>();
      const members = Array.from(
        { length: 1_000 },
        (_, n) => new Member(n, new Set([`room:${n % 100}`]), ['*']),
      );
      members.forEach((member) => index.add(member));
      const visited: number[] = [];
      index.forEachAudience(['room:7'], (member) => visited.push(member.n));
      expect(visited).toHaveLength(10);
      expect(members.reduce((sum, member) => sum + member.checks, 0)).toBe(10);
    });
  });

  describe('when a member subscribes to several of an event scopes', () => {
    it('visits it once', () => {
      const index = new ChannelIndex<Member>();
      const member = new Member(1, new Set(['a', 'b']), ['a', 'b']);
      index.add(member);
      const visited: Member[] = [];
      index.forEachAudience(['a', 'b', 'a'], (m) => visited.push(m));
      expect(visited).toEqual([member]);
    });
  });

  describe('forEachSubscriber', () => {
    it('visits the subscribers of a channel whatever they see, and forgets removed members', () => {
      const index = new ChannelIndex<Member>();
      const one = new Member(1, new Set(['a']), []);
      const two = new Member(2, new Set(['a', 'b']), ['a']);
      const unfiltered = new Member(3, null, ['*']);
      [one, two, unfiltered].forEach((member) => index.add(member));
      const visit = (channel: string) => {
        const visited: number[] = [];
        index.forEachSubscriber(channel, (member) => visited.push(member.n));
        return visited;
      };
      expect(visit('a')).toEqual([1, 2]);
      expect(visit('b')).toEqual([2]);
      expect(index.size).toBe(2);
      index.remove(one);
      expect(visit('a')).toEqual([2]);
      index.remove(two);
      expect(visit('a')).toEqual([]);
      expect(index.size).toBe(0);
    });
  });
});
