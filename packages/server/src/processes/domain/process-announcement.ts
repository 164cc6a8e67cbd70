import { isProcessStatus, type ProcessStatus } from './process-message';

/**
 * A change that live readers still have to hear of, as the store keeps it in
 * its outbox: written in the same transaction (or script) as the change
 * itself, and removed once the event bus took the announcement.
 *
 * Each one is named by what it announces, so the writer that made the change
 * and a relay on another node ack the same entry: a message by its seq, a
 * status by the status (a process enters each status at most once).
 */
export type ProcessAnnouncement =
  | {
      readonly processId: string;
      readonly kind: 'message';
      readonly seq: number;
    }
  | {
      readonly processId: string;
      readonly kind: 'status';
      readonly status: ProcessStatus;
      readonly previous: ProcessStatus | null;
    };

export interface ClaimAnnouncementsOptions {
  /** About this many announcements at most; a store may hand out the entries of one process together. */
  readonly limit: number;
  /** Announcements younger than this stay with the writer that made them, whose own publish is on the way. */
  readonly graceMs: number;
  /** The claimed announcements are not handed out again for this long, unless acked first. */
  readonly leaseMs: number;
}

/** The outbox entry an announcement lives in, e.g. `m:12` or `s:completed`. */
export function announcementEntry(announcement: ProcessAnnouncement): string {
  return announcement.kind === 'message'
    ? `m:${announcement.seq}`
    : `s:${announcement.status}`;
}

/** The announcement an outbox entry holds; `null` for one written by something other than a store. */
export function parseAnnouncementEntry(
  processId: string,
  entry: string,
  previous: string | null,
): ProcessAnnouncement | null {
  const value = entry.slice(2);
  if (entry.startsWith('m:')) {
    const seq = Number(value);
    return Number.isSafeInteger(seq) && seq > 0
      ? { processId, kind: 'message', seq }
      : null;
  }
  if (entry.startsWith('s:') && isProcessStatus(value))
    return {
      processId,
      kind: 'status',
      status: value,
      previous: isProcessStatus(previous) ? previous : null,
    };
  return null;
}
