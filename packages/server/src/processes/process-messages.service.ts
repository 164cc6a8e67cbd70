import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { NewEvent } from '../event-bus/domain/event';
import { EventPublisher } from '../event-bus/domain/event-publisher.port';
import { INTERNAL_EVENT_PUBLISHER } from '../event-bus/event-bus.tokens';
import {
  AppendMessageOptions,
  ProcessMessageStore,
} from './domain/process-message-store.port';
import {
  NewProcessMessage,
  ProcessMessage,
  ProcessStatus,
  assertProcessId,
} from './domain/process-message';
import {
  PROCESS_MESSAGE_EVENT,
  PROCESS_STATUS_EVENT,
  ProcessStatusEventData,
  processScope,
} from './process-events.protocol';
import {
  CursorAheadOfProcessError,
  ProcessNotFoundError,
} from './processes.errors';
import { ProcessesMessages } from './processes.messages';

/** One page of a process's history, as `GET /processes/:id/messages` returns it. */
export interface ProcessMessagePage {
  readonly messages: ProcessMessage[];
  /** The seq to pass as `after` for the next page. */
  readonly nextAfter: number;
  readonly status: ProcessStatus | null;
}

/**
 * Writes process messages and statuses: the store first, then an event on
 * the bus. The store is the truth; the event only tells live readers (and
 * Socket.IO clients holding `process:<id>`) that there is something new.
 */
@Injectable()
export class ProcessMessagesService implements OnApplicationShutdown {
  private readonly logger = new Logger(ProcessMessagesService.name);
  private failedPublishes = 0;
  private failingSince: number | null = null;
  /** Announcements the bus refused, oldest first, sent again until it takes them. */
  private readonly unannounced: Unannounced[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = RETRY_FIRST_DELAY_MS;
  private stopped = false;

  constructor(
    @Inject(ProcessMessageStore) readonly store: ProcessMessageStore,
    // Announces reserved types, which the public publisher refuses.
    @Inject(INTERNAL_EVENT_PUBLISHER)
    private readonly publisher: EventPublisher,
  ) {}

  /** Bus publishes that failed since start; the appends and status changes themselves succeeded. */
  get publishFailures(): number {
    return this.failedPublishes;
  }

  /**
   * With an idempotency key, a retry gets the stored message back and the
   * bus event goes out under a key of its own, so that live readers hear of
   * the message once even when the first attempt's reply was lost after
   * both writes.
   */
  async append(
    processId: string,
    message: NewProcessMessage,
    options: AppendMessageOptions = {},
  ): Promise<ProcessMessage> {
    const stored = await this.store.append(processId, message, options);
    await this.publish(
      processId,
      PROCESS_MESSAGE_EVENT,
      stored,
      options.idempotencyKey === undefined
        ? undefined
        : `process-message:${processId}:${stored.seq}`,
    );
    return stored;
  }

  async setStatus(
    processId: string,
    status: ProcessStatus,
  ): Promise<{ status: ProcessStatus; previous: ProcessStatus | null }> {
    const result = await this.store.setStatus(processId, status);
    // Setting the current status again changes nothing, so nobody is told.
    if (result.previous !== result.status) {
      const data: ProcessStatusEventData = {
        processId,
        status: result.status,
        previous: result.previous,
      };
      await this.publish(processId, PROCESS_STATUS_EVENT, data);
    }
    return { status: result.status, previous: result.previous };
  }

  /**
   * Messages with seq > after. Rejects with `ProcessNotFoundError` when the
   * process has neither status nor messages, and with
   * `CursorAheadOfProcessError` when `after` is past its newest message.
   */
  async page(
    processId: string,
    after: number,
    limit: number,
    cursorField = 'after',
  ): Promise<ProcessMessagePage> {
    assertProcessId(processId);
    const [messages, status] = await Promise.all([
      this.store.read(processId, { after, limit }),
      this.store.getStatus(processId),
    ]);
    if (messages.length === 0) {
      await this.checkCursor(processId, after, cursorField, status !== null);
    }
    return {
      messages,
      nextAfter: messages.length ? messages[messages.length - 1].seq : after,
      status,
    };
  }

  /** Rejects when the process does not exist or `after` is past its newest message. */
  async checkCursor(
    processId: string,
    after: number,
    cursorField: string,
    knownToExist = false,
  ): Promise<void> {
    const [exists, lastSeq] = await Promise.all([
      knownToExist ? true : this.store.exists(processId),
      after > 0 ? this.store.lastSeq(processId) : 0,
    ]);
    if (!exists) throw new ProcessNotFoundError(processId);
    if (after > lastSeq) {
      throw new CursorAheadOfProcessError(
        processId,
        after,
        lastSeq,
        cursorField,
      );
    }
  }

  /**
   * Announces a change on the bus. The change is stored already, so a
   * failure does not fail the write: the announcement is kept and sent again
   * (under the same idempotency key, so never twice) until the bus takes it.
   * Streams wake up on announcements only, so one that was dropped would
   * leave an idle stream waiting.
   */
  private async publish(
    processId: string,
    type: string,
    data: unknown,
    idempotencyKey: string = `process-event:${randomUUID()}`,
  ): Promise<void> {
    const event: NewEvent = { type, data, scopes: [processScope(processId)] };
    try {
      await this.publisher.publish(event, { idempotencyKey });
      this.publishWorked();
    } catch (error) {
      this.publishFailed(type, processId, error);
      this.keepForRetry({ event, idempotencyKey, since: Date.now() });
    }
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.unannounced.length > 0)
      this.logger.warn(
        ProcessesMessages.announcementsLeft(this.unannounced.length),
      );
  }

  private keepForRetry(item: Unannounced): void {
    if (this.unannounced.length >= MAX_UNANNOUNCED) {
      this.unannounced.shift();
      this.logger.error(ProcessesMessages.announcementDropped(MAX_UNANNOUNCED));
    }
    this.unannounced.push(item);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retryUnannounced();
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }

  private async retryUnannounced(): Promise<void> {
    while (!this.stopped && this.unannounced.length > 0) {
      const item = this.unannounced[0];
      if (Date.now() - item.since > RETRY_FOR_MS) {
        this.unannounced.shift();
        this.logger.error(
          ProcessesMessages.announcementExpired(item.event.type, RETRY_FOR_MS),
        );
        continue;
      }
      try {
        await this.publisher.publish(item.event, {
          idempotencyKey: item.idempotencyKey,
        });
      } catch {
        this.failedPublishes++;
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_MAX_DELAY_MS);
        this.scheduleRetry();
        return;
      }
      this.unannounced.shift();
      this.publishWorked();
    }
    this.retryDelayMs = RETRY_FIRST_DELAY_MS;
  }

  private publishWorked(): void {
    if (this.failingSince !== null) {
      this.logger.log(
        ProcessesMessages.publishRecovered(
          this.failedPublishes - this.failingSince,
        ),
      );
      this.failingSince = null;
    }
  }

  private publishFailed(type: string, processId: string, error: unknown): void {
    if (this.failingSince === null) {
      this.failingSince = this.failedPublishes;
      this.logger.error(
        ProcessesMessages.publishFailed(type, processId, error),
      );
    }
    this.failedPublishes++;
  }
}

/** An announcement the bus refused, kept to be sent again. */
interface Unannounced {
  readonly event: NewEvent;
  readonly idempotencyKey: string;
  readonly since: number;
}

/** Bounds the announcements kept while the bus is down (one per write). */
const MAX_UNANNOUNCED = 10_000;
const RETRY_FIRST_DELAY_MS = 250;
const RETRY_MAX_DELAY_MS = 5_000;
/** Within the event log's default idempotency window (10 minutes), so a retry is never written twice. */
const RETRY_FOR_MS = 5 * 60_000;
