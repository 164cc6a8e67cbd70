import {
  formatEventId,
  isVectorCursor,
  parseEventId,
  parseVectorCursor,
} from '@streamgate/protocol';
import type { CursorCheck, CursorProblem } from '../event-subscription.port';
import { PartitionLayout } from './partition-layout';

/**
 * What a connection's cursor asks of each partition it reads.
 *
 * - `check`: look up each element in its partition's log (today's
 *   `checkCursor`, with the element as today's id `<epoch>:<ms>-<seq>`);
 *   `null` where the cursor names no position for that partition.
 * - `refused`: nothing to look up; the cursor as a whole cannot be resumed
 *   from. `detail` says why, for the server log.
 */
export type CursorPlan =
  | {
      readonly kind: 'check';
      readonly elements: ReadonlyMap<number, string | null>;
    }
  | {
      readonly kind: 'refused';
      readonly reason: 'invalid_cursor' | 'epoch_changed';
      readonly detail: string;
    };

/** One element's result: its partition, and its check (`null`: no element). */
export interface ElementCoverage {
  readonly partition: number;
  readonly check: CursorCheck | null;
}

export type ReadyOutcome =
  | { readonly recovered: true }
  | {
      readonly recovered: false;
      readonly reason: CursorProblem | 'no_cursor';
      /** The partition whose element decided; absent when the cursor as a whole did. */
      readonly partition?: number;
    };

/**
 * Splits a connection's cursor into the elements its partitions need.
 *
 * `reads` are the partitions the connection reads (`layout.partitionsFor`).
 * Elements of other partitions are ignored: the connection no longer reads
 * them (its scopes changed), and their events are not its to recover.
 *
 * With P = 1 the cursor goes to the one log untouched, so today's answers
 * stay exactly as they are. With P > 1, a cursor of another layout (today's
 * ids included: the P = 1 layout) is `epoch_changed`: the client held a real
 * position, in logs that no longer hold what it follows. A malformed one is
 * `invalid_cursor`.
 */
export function planCursor(
  layout: PartitionLayout,
  cursor: unknown,
  reads: readonly number[],
): CursorPlan {
  const none = cursor === undefined || cursor === null || cursor === '';
  if (layout.partitions === 1) {
    if (none || typeof cursor === 'string')
      return { kind: 'check', elements: new Map([[0, none ? null : cursor]]) };
    return {
      kind: 'refused',
      reason: 'invalid_cursor',
      detail: `A cursor must be a string, not ${cursor === null ? 'null' : typeof cursor}.`,
    };
  }
  if (none)
    return { kind: 'check', elements: new Map(reads.map((k) => [k, null])) };
  if (!isVectorCursor(cursor)) {
    return parseEventId(cursor) !== null
      ? {
          kind: 'refused',
          reason: 'epoch_changed',
          detail: `The cursor is of the single log; this log has ${layout.partitions} partitions (layout ${layout.id}).`,
        }
      : {
          kind: 'refused',
          reason: 'invalid_cursor',
          detail: `The cursor is neither "v2.<layout>.<P>|…" nor "<epoch>:<ms>-<seq>".`,
        };
  }
  const parsed = parseVectorCursor(cursor);
  if (!parsed.ok)
    return {
      kind: 'refused',
      reason: 'invalid_cursor',
      detail: parsed.message,
    };
  const { layout: id, partitions, elements } = parsed.cursor;
  if (id !== layout.id || partitions !== layout.partitions)
    return {
      kind: 'refused',
      reason: 'epoch_changed',
      detail: `The cursor is of layout ${id} with ${partitions} partitions; this log is layout ${layout.id} with ${layout.partitions}.`,
    };
  const byPartition = new Map(elements.map((e) => [e.partition, e]));
  return {
    kind: 'check',
    elements: new Map(
      reads.map((k) => {
        const element = byPartition.get(k);
        return [
          k,
          element === undefined
            ? null
            : formatEventId(element.epoch, element.streamId),
        ];
      }),
    ),
  };
}

/**
 * One `ready` outcome from the elements' checks: recovered only if every
 * element is covered; otherwise the reason of the first uncovered element,
 * in ascending partition order, a missing element being `no_cursor`.
 *
 * Why all or nothing: the client keeps one state for all its partitions.
 * A partial replay would leave it holding some partitions' events with gaps
 * in others, with no way to tell which; so, as today, it reloads its state.
 * Why the first by partition: the reason shown should not depend on the
 * order in which the checks completed. An empty list is not recovered
 * (`no_cursor`): every connection reads partition 0, so an empty list means
 * nothing was checked, and that must not pass for "covered".
 */
export function readyOutcome(
  elements: readonly ElementCoverage[],
): ReadyOutcome {
  if (elements.length === 0) return { recovered: false, reason: 'no_cursor' };
  let first: ReadyOutcome | null = null;
  let firstPartition = Infinity;
  for (const { partition, check } of elements) {
    if (check !== null && check.covered) continue;
    if (partition < firstPartition) {
      firstPartition = partition;
      first = {
        recovered: false,
        reason: check === null ? 'no_cursor' : check.reason,
        partition,
      };
    }
  }
  return first ?? { recovered: true };
}

/** `readyOutcome` for a plan: a refused cursor decides without any check. */
export function planOutcome(
  plan: CursorPlan,
  checks: ReadonlyMap<number, CursorCheck>,
): ReadyOutcome {
  if (plan.kind === 'refused') return { recovered: false, reason: plan.reason };
  const elements: ElementCoverage[] = [];
  for (const [partition, element] of plan.elements) {
    const check = element === null ? null : checks.get(partition);
    if (check === undefined)
      throw new Error(
        `No coverage check for partition ${partition}, whose cursor element was to be checked.`,
      );
    elements.push({ partition, check });
  }
  return readyOutcome(elements);
}
