import { StoredEvent } from './event';

/**
 * Type of the log's control entries: node-wide notices (such as access
 * revocations) that every node reads once through its node reader, in log
 * order with the events around them. The hub hands them to its control
 * listeners; they are never delivered, counted or replayed to clients, nor
 * handed to competing consumers.
 */
export const CONTROL_EVENT_TYPE = 'streamgate.control';

/** The scope control entries carry, so that no scope check can ever pass them to a client by mistake. */
export const CONTROL_SCOPE = 'streamgate:control';

export function isControlEvent(event: StoredEvent): boolean {
  return event.type === CONTROL_EVENT_TYPE;
}
