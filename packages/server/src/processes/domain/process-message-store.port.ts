import type {
  ClaimAnnouncementsOptions,
  ProcessAnnouncement,
} from './process-announcement';
import type {
  NewProcessMessage,
  ProcessMessage,
  ProcessStatus,
} from './process-message';

export interface AppendMessageOptions {
  /**
   * Makes the append safe to retry: an append whose key was used before for
   * this process stores nothing and returns the message stored the first
   * time (same seq); a key reused for a different message rejects with
   * `IdempotencyKeyReusedError`. Keys are remembered as long as the
   * process's messages are kept. 1 to 255 visible ASCII characters.
   * @default none
   */
  readonly idempotencyKey?: string;
}

/**
 * Durable, ordered messages of agent processes (one process = one agent run),
 * with an outbox of the announcements still owed to live readers.
 *
 * A store only stores: the rules (checking ids, messages, statuses, read
 * options and idempotency keys, announcing changes and relaying the outbox)
 * live in `ProcessMessagesService`, which calls a store with arguments it
 * already checked. Adapters backed by a server reject with
 * `ProcessMessageStoreUnavailableError` when it cannot be reached.
 */
export interface ProcessMessageStore {
  /**
   * Stores a checked message (see `validateNewProcessMessage`) under the next
   * seq of the process (1 for the first), atomically even with many writers
   * on the same backend, and in the same write an outbox entry announcing it.
   * Rejects with `ProcessAlreadyEndedError` once the process status is
   * terminal, unless the idempotency key names a message stored before the
   * end; a repeat stores nothing, outbox entry included.
   */
  append(
    processId: string,
    message: NewProcessMessage,
    options?: AppendMessageOptions,
  ): Promise<ProcessMessage>;
  /** Messages with seq > after, ascending, at most limit. */
  read(
    processId: string,
    options: { after: number; limit: number },
  ): Promise<ProcessMessage[]>;
  /** The seq of the newest message; 0 when there is none. */
  lastSeq(processId: string): Promise<number>;
  /** `null` while no status was ever set. */
  getStatus(processId: string): Promise<ProcessStatus | null>;
  /**
   * Moves the process to `status` and, in the same write, puts the change in
   * the outbox. Setting the status it already has is a no-op that reports
   * `previous === status` and announces nothing; leaving a terminal status
   * rejects with `ProcessAlreadyEndedError`.
   */
  setStatus(
    processId: string,
    status: ProcessStatus,
  ): Promise<{ previous: ProcessStatus | null; status: ProcessStatus }>;
  /** Whether the process has a status or at least one message. */
  exists(processId: string): Promise<boolean>;
  /**
   * Hands out outbox entries older than `graceMs` whose lease (if any) ran
   * out, oldest first, and leases them for `leaseMs`, so that relays on other
   * nodes skip them meanwhile. A relay that dies holding a lease only delays
   * its entries by `leaseMs`.
   */
  claimAnnouncements(
    options: ClaimAnnouncementsOptions,
  ): Promise<ProcessAnnouncement[]>;
  /** Removes the entries of announcements the event bus took; entries already gone are ignored. */
  ackAnnouncements(
    announcements: readonly ProcessAnnouncement[],
  ): Promise<void>;
  /** Releases connections the store opened itself; injected clients stay open. */
  close(): Promise<void>;
}

export const ProcessMessageStore = Symbol('ProcessMessageStore');
