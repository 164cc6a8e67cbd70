import { checkIdempotencyKey } from '../../event-bus/domain/idempotency-key';
import type { EventPublisher } from '../../event-bus/domain/event-publisher.port';
import {
  AppendMessageOptions,
  ProcessMessageStore,
} from '../domain/process-message-store.port';
import {
  NewProcessMessage,
  ProcessMessage,
  ProcessStatus,
  assertProcessId,
  assertProcessStatus,
  validateNewProcessMessage,
  validateReadOptions,
} from '../domain/process-message';
import { InvalidProcessMessageError } from '../domain/process-messages.errors';
import {
  CursorAheadOfProcessError,
  ProcessNotFoundError,
} from '../processes.errors';
import {
  AnnouncementRelay,
  AnnouncementRelaySettings,
} from './announcement.relay';

/** One page of a process's history, as `GET /processes/:id/messages` returns it. */
export interface ProcessMessagePage {
  readonly messages: ProcessMessage[];
  /** The seq to pass as `after` for the next page. */
  readonly nextAfter: number;
  readonly status: ProcessStatus | null;
}

/**
 * The rules of process messages over a `ProcessMessageStore`, which only
 * stores: arguments are checked here, once for every adapter; the store
 * writes the change and its announcement in one go; the announcement is then
 * published on the event bus, by this writer or, should it fail or die, by
 * the relay of any live node.
 *
 * The store is the truth; the announcement only tells live readers (and
 * Socket.IO clients holding `process:<id>`) that there is something new.
 */
export class ProcessMessagesEngine {
  protected readonly relay: AnnouncementRelay;

  constructor(
    readonly store: ProcessMessageStore,
    publisher: EventPublisher,
    relaySettings?: AnnouncementRelaySettings,
  ) {
    this.relay = new AnnouncementRelay(store, publisher, relaySettings);
  }

  /** Bus publishes that failed since start; the appends and status changes themselves succeeded. */
  get publishFailures(): number {
    return this.relay.publishFailures;
  }

  /**
   * With an idempotency key, a retry gets the stored message back and its
   * announcement goes out again under the key of the first, so that live
   * readers hear of the message once even when the first attempt's reply
   * was lost after the write.
   */
  async append(
    processId: string,
    message: NewProcessMessage,
    options: AppendMessageOptions = {},
  ): Promise<ProcessMessage> {
    assertProcessId(processId);
    const valid = validateNewProcessMessage(message);
    const idempotencyKey = checkIdempotencyKey(
      options.idempotencyKey,
      (text) => new InvalidProcessMessageError(text, 'idempotencyKey'),
    );
    const stored = await this.store.append(
      processId,
      valid,
      idempotencyKey === undefined ? {} : { idempotencyKey },
    );
    await this.relay.announce(
      { processId, kind: 'message', seq: stored.seq },
      stored,
    );
    return stored;
  }

  async setStatus(
    processId: string,
    status: ProcessStatus,
  ): Promise<{ status: ProcessStatus; previous: ProcessStatus | null }> {
    assertProcessId(processId);
    assertProcessStatus(status);
    const result = await this.store.setStatus(processId, status);
    // Setting the current status again changes nothing, so nobody is told.
    if (result.previous !== result.status) {
      await this.relay.announce({
        processId,
        kind: 'status',
        status: result.status,
        previous: result.previous,
      });
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
    validateReadOptions({ after, limit });
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
    assertProcessId(processId);
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

  /** Reads a page of stored messages, checked as `page` checks them, without the existence check. */
  async read(
    processId: string,
    options: { after: number; limit: number },
  ): Promise<ProcessMessage[]> {
    assertProcessId(processId);
    return this.store.read(processId, validateReadOptions(options));
  }
}
