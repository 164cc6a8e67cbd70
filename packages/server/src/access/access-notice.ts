import { NewEvent } from '../event-bus/domain/event';
import {
  CONTROL_EVENT_TYPE,
  CONTROL_SCOPE,
} from '../event-bus/hub/hub-control';

/**
 * Access changes every node must apply to its open connections, carried as
 * control entries of the event log: each node reads them once, in order with
 * the events around them, so no event published after a revocation reaches
 * a revoked connection on any node.
 */
export type AccessNotice =
  | {
      readonly kind: 'access.revoked';
      readonly userId: string;
      readonly revokedAt: number;
    }
  | { readonly kind: 'access.refresh'; readonly userId: string };

export function accessNoticeEvent(notice: AccessNotice): NewEvent {
  return { type: CONTROL_EVENT_TYPE, data: notice, scopes: [CONTROL_SCOPE] };
}

/** The notice a control entry carries, or `null` when it is not an access notice. */
export function parseAccessNotice(data: unknown): AccessNotice | null {
  if (data === null || typeof data !== 'object') return null;
  const { kind, userId, revokedAt } = data as Record<string, unknown>;
  if (typeof userId !== 'string' || userId === '') return null;
  if (kind === 'access.refresh') return { kind, userId };
  if (
    kind === 'access.revoked' &&
    typeof revokedAt === 'number' &&
    Number.isFinite(revokedAt)
  )
    return { kind, userId, revokedAt };
  return null;
}
