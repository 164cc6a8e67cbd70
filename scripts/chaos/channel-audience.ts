import { LogEntry } from './event-log.reader';
import { inChannels, scopeKey, visibleTo } from './log-position.rule';

/**
 * Who an entry is owed to. A connection's audience is its scopes and, when
 * it keeps one, its subscription set; `key` names the audience so that the
 * checker counts each one's entries once.
 */
export interface Audience {
  readonly key: string;
  includes(entry: LogEntry): boolean;
}

/**
 * The entries `scopes` may see that pass every one of `sets` by the channel
 * rule. Kept in a canonical form (a set that holds another adds nothing:
 * an event that names a channel of the smaller names one of the larger), so
 * that the audiences a run builds from switches share their keys, and the
 * checker's counts per key stay few.
 */
interface Conjunction extends Audience {
  readonly scopes: ReadonlySet<string>;
  readonly sets: readonly ReadonlySet<string>[];
}

function conjunction(
  scopes: ReadonlySet<string>,
  sets: readonly ReadonlySet<string>[],
): Conjunction {
  const minimal: ReadonlySet<string>[] = [];
  const keys = new Set<string>();
  for (const set of [...sets].sort((a, b) => a.size - b.size)) {
    const key = scopeKey([...set]);
    if (keys.has(key)) continue;
    if (minimal.some((smaller) => [...smaller].every((c) => set.has(c))))
      continue;
    keys.add(key);
    minimal.push(set);
  }
  const setKey = [...keys]
    .sort()
    .map((k) => `[${k}]`)
    .join('&');
  return {
    key: `${scopeKey([...scopes])}|${setKey === '' ? '*' : setKey}`,
    scopes,
    sets: minimal,
    includes: (entry) =>
      entry.deliverable &&
      visibleTo(entry.scopes, scopes) &&
      minimal.every((set) => inChannels(entry.scopes, set)),
  };
}

function isConjunction(audience: Audience): audience is Conjunction {
  return 'sets' in audience;
}

/** The entries `scopes` may see and, with a set, that name one of `channels` (or none). */
export function audienceOf(
  scopes: ReadonlySet<string>,
  channels: ReadonlySet<string> | null,
): Audience {
  return conjunction(scopes, channels === null ? [] : [channels]);
}

/** Entries owed to both: a switch whose answer never came owes these whichever set took effect. */
export function bothOf(a: Audience, b: Audience): Audience {
  if (a.key === b.key) return a;
  if (
    isConjunction(a) &&
    isConjunction(b) &&
    scopeKey([...a.scopes]) === scopeKey([...b.scopes])
  )
    return conjunction(a.scopes, [...a.sets, ...b.sets]);
  return {
    key: `(${a.key})&(${b.key})`,
    includes: (entry) => a.includes(entry) && b.includes(entry),
  };
}

/** Entries owed to either: what a switch whose answer never came may deliver. */
export function eitherOf(a: Audience, b: Audience): Audience {
  if (a.key === b.key) return a;
  return {
    key: `(${a.key})|(${b.key})`,
    includes: (entry) => a.includes(entry) || b.includes(entry),
  };
}

/**
 * The audience of one stretch of the log on a connection: from log index
 * `start` on (to the next segment), every entry `must` includes is owed,
 * and nothing `may` leaves out may arrive.
 */
export interface Segment {
  readonly start: number;
  readonly must: Audience;
  readonly may: Audience;
  /** The set in force, for messages; null when unfiltered. */
  readonly channels: ReadonlySet<string> | null;
}

/**
 * A connection's audience along the log. A switch acknowledged at
 * `position` starts a segment at the first entry after it: every entry
 * after the position in the new set is owed, and nothing at or before it
 * that the old set left out may arrive. Segments are added in log order.
 */
export class AudienceTimeline {
  private readonly segments: Segment[] = [];

  constructor(first: Segment) {
    this.segments.push({ ...first, start: 0 });
  }

  /** The segment in force at the end. */
  get last(): Segment {
    return this.segments[this.segments.length - 1];
  }

  get first(): Segment {
    return this.segments[0];
  }

  /**
   * Adds a segment from `start` on, replacing the last one if it starts
   * there too; a start before the last one's is moved up to it (the caller
   * reports a switch position that went back).
   */
  add(segment: Segment): void {
    const start = Math.max(segment.start, this.last.start);
    if (start === this.last.start)
      this.segments[this.segments.length - 1] = { ...segment, start };
    else this.segments.push({ ...segment, start });
  }

  /**
   * From log index `start` on, owes only what `owed` also includes: a
   * switch may drop events not yet sent when it was asked for that its new
   * set leaves out, even before an earlier switch's position.
   */
  restrict(start: number, owed: Audience): void {
    const next: Segment[] = [];
    this.segments.forEach((segment, i) => {
      const end =
        i + 1 < this.segments.length ? this.segments[i + 1].start : Infinity;
      if (end <= start) next.push(segment);
      else if (segment.start < start)
        next.push(segment, {
          ...segment,
          start,
          must: bothOf(segment.must, owed),
        });
      else next.push({ ...segment, must: bothOf(segment.must, owed) });
    });
    this.segments.splice(0, this.segments.length, ...next);
  }

  /** The segment that holds log index `index`. */
  at(index: number): Segment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.segments[mid].start <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.segments[lo];
  }

  /** The stretches of [from, to) with their segment. */
  *pieces(
    from: number,
    to: number,
  ): Generator<{ from: number; to: number; segment: Segment }> {
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[i];
      const end =
        i + 1 < this.segments.length ? this.segments[i + 1].start : Infinity;
      const a = Math.max(from, segment.start);
      const b = Math.min(to, end);
      if (a < b) yield { from: a, to: b, segment };
    }
  }
}
