import { IdempotencyKeyReusedError } from '../../../event-bus/domain/errors';
import {
  announcementEntry,
  ClaimAnnouncementsOptions,
  ProcessAnnouncement,
} from '../../domain/process-announcement';
import {
  AppendMessageOptions,
  ProcessMessageStore,
} from '../../domain/process-message-store.port';
import {
  NewProcessMessage,
  ProcessMessage,
  ProcessStatus,
  isTerminalStatus,
  processMessageFingerprint,
} from '../../domain/process-message';
import { ProcessAlreadyEndedError } from '../../domain/process-messages.errors';

export interface InMemoryProcessMessageStoreOptions {
  /** Clock for `createdAt`, milliseconds since the Unix epoch. @default Date.now */
  readonly now?: () => number;
}

interface StoredMessage extends Omit<ProcessMessage, 'payload'> {
  readonly payloadJson: string;
}

interface ProcessRecord {
  status: ProcessStatus | null;
  readonly messages: StoredMessage[];
  /** Idempotency key -> seq and fingerprint of the message it stored. */
  readonly keys: Map<string, { seq: number; fingerprint: string }>;
}

interface OutboxEntry {
  readonly announcement: ProcessAnnouncement;
  readonly createdAt: number;
  leasedUntil: number;
}

/**
 * Keeps everything in this Node process: for tests, development and single
 * node setups that can lose messages on restart. Each instance is its own
 * backend, so share one instance between writers.
 */
export class InMemoryProcessMessageStore implements ProcessMessageStore {
  private readonly processes = new Map<string, ProcessRecord>();
  /** In insertion order, which is the order of the changes. */
  private readonly outbox = new Map<string, OutboxEntry>();
  private readonly now: () => number;

  constructor(options: InMemoryProcessMessageStoreOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  async append(
    processId: string,
    message: NewProcessMessage,
    options: AppendMessageOptions = {},
  ): Promise<ProcessMessage> {
    const key = options.idempotencyKey;
    const record = this.record(processId);
    const { payload, ...fields } = message;
    // Stored as JSON so that callers mutating their objects later cannot
    // change history, and so that this adapter returns what the others do.
    const payloadJson = JSON.stringify(payload);
    const fingerprint =
      key === undefined ? '' : processMessageFingerprint(message, payloadJson);
    const earlier = key === undefined ? undefined : record.keys.get(key);
    if (earlier) {
      if (earlier.fingerprint !== fingerprint)
        throw new IdempotencyKeyReusedError(key!);
      return toMessage(record.messages[earlier.seq - 1]);
    }
    if (record.status && isTerminalStatus(record.status)) {
      throw new ProcessAlreadyEndedError(processId, record.status);
    }
    const stored: StoredMessage = {
      seq: record.messages.length + 1,
      processId,
      ...fields,
      payloadJson,
      createdAt: new Date(this.now()).toISOString(),
    };
    record.messages.push(stored);
    if (key !== undefined)
      record.keys.set(key, { seq: stored.seq, fingerprint });
    this.putInOutbox({ processId, kind: 'message', seq: stored.seq });
    return toMessage(stored);
  }

  async read(
    processId: string,
    options: { after: number; limit: number },
  ): Promise<ProcessMessage[]> {
    const { after, limit } = options;
    const messages = this.processes.get(processId)?.messages ?? [];
    // seq n sits at index n - 1, so the page is a plain slice.
    return messages.slice(after, after + limit).map(toMessage);
  }

  async lastSeq(processId: string): Promise<number> {
    return this.processes.get(processId)?.messages.length ?? 0;
  }

  async getStatus(processId: string): Promise<ProcessStatus | null> {
    return this.processes.get(processId)?.status ?? null;
  }

  async setStatus(
    processId: string,
    status: ProcessStatus,
  ): Promise<{ previous: ProcessStatus | null; status: ProcessStatus }> {
    const record = this.record(processId);
    const previous = record.status;
    if (previous === status) return { previous, status };
    if (previous && isTerminalStatus(previous)) {
      throw new ProcessAlreadyEndedError(processId, previous);
    }
    record.status = status;
    this.putInOutbox({ processId, kind: 'status', status, previous });
    return { previous, status };
  }

  async exists(processId: string): Promise<boolean> {
    const record = this.processes.get(processId);
    return (
      record !== undefined &&
      (record.status !== null || record.messages.length > 0)
    );
  }

  async claimAnnouncements({
    limit,
    graceMs,
    leaseMs,
  }: ClaimAnnouncementsOptions): Promise<ProcessAnnouncement[]> {
    const now = this.now();
    const claimed: ProcessAnnouncement[] = [];
    for (const entry of this.outbox.values()) {
      if (claimed.length >= limit) break;
      const due = entry.leasedUntil || entry.createdAt + graceMs;
      if (due > now) continue;
      entry.leasedUntil = now + leaseMs;
      claimed.push(entry.announcement);
    }
    return claimed;
  }

  async ackAnnouncements(
    announcements: readonly ProcessAnnouncement[],
  ): Promise<void> {
    for (const announcement of announcements)
      this.outbox.delete(outboxKey(announcement));
  }

  async close(): Promise<void> {}

  private putInOutbox(announcement: ProcessAnnouncement): void {
    this.outbox.set(outboxKey(announcement), {
      announcement,
      createdAt: this.now(),
      leasedUntil: 0,
    });
  }

  private record(processId: string): ProcessRecord {
    let record = this.processes.get(processId);
    if (!record) {
      record = { status: null, messages: [], keys: new Map() };
      this.processes.set(processId, record);
    }
    return record;
  }
}

function outboxKey(announcement: ProcessAnnouncement): string {
  return `${announcement.processId} ${announcementEntry(announcement)}`;
}

function toMessage({ payloadJson, ...fields }: StoredMessage): ProcessMessage {
  return { ...fields, payload: JSON.parse(payloadJson) };
}
