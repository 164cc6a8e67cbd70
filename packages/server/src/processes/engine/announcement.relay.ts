import { Logger } from '@nestjs/common';
import { IdempotencyKeyReusedError } from '../../event-bus/domain/errors';
import type { NewEvent } from '../../event-bus/domain/event';
import type { EventPublisher } from '../../event-bus/domain/event-publisher.port';
import type { ProcessAnnouncement } from '../domain/process-announcement';
import type { ProcessMessage } from '../domain/process-message';
import type { ProcessMessageStore } from '../domain/process-message-store.port';
import {
  PROCESS_MESSAGE_EVENT,
  PROCESS_STATUS_EVENT,
  ProcessStatusEventData,
  processScope,
} from '../process-events.protocol';
import { ProcessesMessages } from '../processes.messages';

/** How the outbox is relayed; the defaults suit production. */
export interface AnnouncementRelaySettings {
  /**
   * How often each node looks for announcements nobody published, in ms.
   * @default 1000
   */
  readonly intervalMs?: number;
  /**
   * How long an announcement stays with the writer that made it before a
   * relay may take it, in ms. Longer than a healthy publish takes, so that a
   * relay only sends what its writer could not.
   * @default 2000
   */
  readonly graceMs?: number;
  /**
   * How long a claimed announcement is left to the relay that claimed it
   * before another may take it, in ms; also the pause between two attempts
   * while the event bus refuses.
   * @default 5000
   */
  readonly leaseMs?: number;
  /**
   * Most announcements one relay pass claims.
   * @default 100
   */
  readonly batchSize?: number;
}

const DEFAULTS: Required<AnnouncementRelaySettings> = {
  intervalMs: 1_000,
  graceMs: 2_000,
  leaseMs: 5_000,
  batchSize: 100,
};

/**
 * Publishes announcements on the event bus and clears them from the store's
 * outbox. The writer of a change announces it at once; every node also runs
 * a relay that publishes what stayed in the outbox past a grace period: the
 * writer died, or the bus refused.
 *
 * Each announcement is published under an idempotency key derived from what
 * it announces, so the writer and a relay, or two relays after a lease ran
 * out, write it to the log once within the log's idempotency window. Past the
 * window a second copy is harmless: streams skip seqs they already sent and
 * a status they already reported.
 */
export class AnnouncementRelay {
  private readonly logger = new Logger(AnnouncementRelay.name);
  private readonly settings: Required<AnnouncementRelaySettings>;
  private failed = 0;
  private failingSince: number | null = null;
  private claimFailing = false;
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | null = null;
  private stopped = true;

  constructor(
    private readonly store: ProcessMessageStore,
    private readonly publisher: EventPublisher,
    settings: AnnouncementRelaySettings = {},
  ) {
    this.settings = { ...DEFAULTS, ...settings };
  }

  /** Bus publishes that failed since start; the changes themselves are stored. */
  get publishFailures(): number {
    return this.failed;
  }

  /**
   * The writer's own announcement, right after the store took the change.
   * Never rejects: a failed publish leaves the announcement to the relays.
   */
  async announce(
    announcement: ProcessAnnouncement,
    message?: ProcessMessage,
  ): Promise<void> {
    if (await this.publish(announcement, message)) {
      // Not awaited: the write is done, and an entry whose ack is lost is
      // only published once more, under the same idempotency key.
      this.store.ackAnnouncements([announcement]).catch(() => undefined);
    }
  }

  /** Starts looking for announcements that nobody published. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops the relay after the pass in progress, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pass;
  }

  /** One relay pass: claims due announcements, publishes them in order, acks what went out. */
  async relayOnce(): Promise<number> {
    let claimed: ProcessAnnouncement[];
    try {
      claimed = await this.store.claimAnnouncements({
        limit: this.settings.batchSize,
        graceMs: this.settings.graceMs,
        leaseMs: this.settings.leaseMs,
      });
      if (this.claimFailing) {
        this.claimFailing = false;
        this.logger.log(ProcessesMessages.outboxReadable());
      }
    } catch (error) {
      if (!this.claimFailing) {
        this.claimFailing = true;
        this.logger.warn(ProcessesMessages.outboxUnreadable(error));
      }
      return 0;
    }
    const sent: ProcessAnnouncement[] = [];
    for (const announcement of claimed) {
      const message =
        announcement.kind === 'message'
          ? await this.storedMessage(announcement.processId, announcement.seq)
          : undefined;
      // A message deleted since (its process expired) has nobody left to tell.
      if (message === null) {
        sent.push(announcement);
        continue;
      }
      // The rest keep their lease and are tried again once it runs out.
      if (!(await this.publish(announcement, message))) break;
      sent.push(announcement);
    }
    if (sent.length > 0) {
      await this.store.ackAnnouncements(sent).catch(() => undefined);
      this.logger.log(ProcessesMessages.announcementsRelayed(sent.length));
    }
    return sent.length;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pass = this.relayOnce()
        .then(
          () => undefined,
          // relayOnce handles its own failures; this only keeps the loop alive.
          (error: unknown) =>
            this.logger.error(ProcessesMessages.relayFailed(error)),
        )
        .finally(() => {
          this.pass = null;
          this.schedule();
        });
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  /** `undefined` when the store cannot be read now, `null` when the message is gone. */
  private async storedMessage(
    processId: string,
    seq: number,
  ): Promise<ProcessMessage | null | undefined> {
    try {
      const [message] = await this.store.read(processId, {
        after: seq - 1,
        limit: 1,
      });
      return message?.seq === seq ? message : null;
    } catch {
      return undefined;
    }
  }

  private async publish(
    announcement: ProcessAnnouncement,
    message: ProcessMessage | undefined,
  ): Promise<boolean> {
    if (announcement.kind === 'message' && message === undefined) return false;
    const { event, idempotencyKey } = toEvent(announcement, message);
    try {
      await this.publisher.publish(event, { idempotencyKey });
    } catch (error) {
      // The key names the announcement (the process and the message's seq,
      // or the status), so the log already holds this announcement. Its
      // content differs only in how the store gave the message back (e.g.
      // PostgreSQL's jsonb orders an object's keys its own way), and trying
      // again would never succeed and would hold up every announcement
      // behind it.
      if (error instanceof IdempotencyKeyReusedError) return true;
      if (this.failingSince === null) {
        this.failingSince = this.failed;
        this.logger.error(
          ProcessesMessages.publishFailed(
            event.type,
            announcement.processId,
            error,
          ),
        );
      }
      this.failed++;
      return false;
    }
    if (this.failingSince !== null) {
      this.logger.log(
        ProcessesMessages.publishRecovered(this.failed - this.failingSince),
      );
      this.failingSince = null;
    }
    return true;
  }
}

function toEvent(
  announcement: ProcessAnnouncement,
  message: ProcessMessage | undefined,
): { event: NewEvent; idempotencyKey: string } {
  const scopes = [processScope(announcement.processId)];
  if (announcement.kind === 'message') {
    return {
      event: { type: PROCESS_MESSAGE_EVENT, data: message, scopes },
      idempotencyKey: `process-message:${announcement.processId}:${announcement.seq}`,
    };
  }
  const data: ProcessStatusEventData = {
    processId: announcement.processId,
    status: announcement.status,
    previous: announcement.previous,
  };
  return {
    event: { type: PROCESS_STATUS_EVENT, data, scopes },
    idempotencyKey: `process-status:${announcement.processId}:${announcement.status}`,
  };
}
