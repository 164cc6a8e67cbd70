import { CursorCheck } from '../domain/event-subscription.port';
import { compareStreamIds, epochOf, EventId } from '../domain/event-id';

/**
 * Whether a node whose reader stands at `position` must follow the log
 * before it answers a cursor: the log is in an epoch the node has not
 * reached (the cursor's, or a newer one), or it lost the entry at the
 * cursor in a rewind this node is about to notice: the node has handed on
 * entries past the log's tip. A node that stands within the log answers a
 * cursor the log never held at once; should another node have handed that
 * cursor on before a rewind, the client starts afresh now and is told again
 * when that node renews the epoch, so nothing passes unnoticed.
 *
 * On a partitioned log, `position` is the partition's reader position and
 * `cursor` the partition's element, both as partitioned ids.
 */
export function mustFollowLog(
  position: EventId,
  cursor: EventId,
  check: CursorCheck,
): boolean {
  const nodeEpoch = epochOf(position);
  if (check.covered) return epochOf(cursor) !== nodeEpoch;
  if (check.lost)
    return (
      check.epoch !== nodeEpoch ||
      check.logTip === undefined ||
      compareStreamIds(
        position.slice(position.lastIndexOf(':') + 1),
        check.logTip,
      ) > 0
    );
  return check.reason === 'epoch_changed' && check.epoch !== nodeEpoch;
}
