import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventPublisher } from '../event-bus/domain/event-publisher.port';
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
export class ProcessMessagesService {
  private readonly logger = new Logger(ProcessMessagesService.name);
  private failedPublishes = 0;
  private failingSince: number | null = null;

  constructor(
    @Inject(ProcessMessageStore) readonly store: ProcessMessageStore,
    @Inject(EventPublisher) private readonly publisher: EventPublisher,
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

  private async publish(
    processId: string,
    type: string,
    data: unknown,
    idempotencyKey?: string,
  ): Promise<void> {
    try {
      await this.publisher.publish(
        { type, data, scopes: [processScope(processId)] },
        idempotencyKey === undefined ? undefined : { idempotencyKey },
      );
      if (this.failingSince !== null) {
        this.logger.log(
          ProcessesMessages.publishRecovered(
            this.failedPublishes - this.failingSince,
          ),
        );
        this.failingSince = null;
      }
    } catch (error) {
      // Readers read the store, so a lost event only delays live delivery
      // until the next check; failing the write would be worse.
      if (this.failingSince === null) {
        this.failingSince = this.failedPublishes;
        this.logger.error(
          ProcessesMessages.publishFailed(type, processId, error),
        );
      }
      this.failedPublishes++;
    }
  }
}
