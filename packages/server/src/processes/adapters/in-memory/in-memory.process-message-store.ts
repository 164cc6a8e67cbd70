import { IdempotencyKeyReusedError } from '../../../event-bus/domain/errors';
import { checkIdempotencyKey } from '../../../event-bus/domain/idempotency-key';
import {
  AppendMessageOptions,
  ProcessMessageStore,
} from '../../domain/process-message-store.port';
import {
  NewProcessMessage,
  ProcessMessage,
  ProcessStatus,
  assertProcessId,
  assertProcessStatus,
  isTerminalStatus,
  processMessageFingerprint,
  validateNewProcessMessage,
  validateReadOptions,
} from '../../domain/process-message';
import {
  InvalidProcessMessageError,
  ProcessAlreadyEndedError,
} from '../../domain/process-messages.errors';

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

/**
 * Keeps everything in this Node process: for tests, development and single
 * node setups that can lose messages on restart. Each instance is its own
 * backend, so share one instance between writers.
 */
export class InMemoryProcessMessageStore implements ProcessMessageStore {
  private readonly processes = new Map<string, ProcessRecord>();
  private readonly now: () => number;

  constructor(options: InMemoryProcessMessageStoreOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  async append(
    processId: string,
    message: NewProcessMessage,
    options: AppendMessageOptions = {},
  ): Promise<ProcessMessage> {
    assertProcessId(processId);
    const valid = validateNewProcessMessage(message);
    const key = checkIdempotencyKey(
      options.idempotencyKey,
      (text) => new InvalidProcessMessageError(text, 'idempotencyKey'),
    );
    const record = this.record(processId);
    const { payload, ...fields } = valid;
    // Stored as JSON so that callers mutating their objects later cannot
    // change history, and so that this adapter returns what the others do.
    const payloadJson = JSON.stringify(payload);
    const fingerprint =
      key === undefined ? '' : processMessageFingerprint(valid, payloadJson);
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
    return toMessage(stored);
  }

  async read(
    processId: string,
    options: { after: number; limit: number },
  ): Promise<ProcessMessage[]> {
    assertProcessId(processId);
    const { after, limit } = validateReadOptions(options);
    const messages = this.processes.get(processId)?.messages ?? [];
    // seq n sits at index n - 1, so the page is a plain slice.
    return messages.slice(after, after + limit).map(toMessage);
  }

  async lastSeq(processId: string): Promise<number> {
    assertProcessId(processId);
    return this.processes.get(processId)?.messages.length ?? 0;
  }

  async getStatus(processId: string): Promise<ProcessStatus | null> {
    assertProcessId(processId);
    return this.processes.get(processId)?.status ?? null;
  }

  async setStatus(
    processId: string,
    status: ProcessStatus,
  ): Promise<{ previous: ProcessStatus | null; status: ProcessStatus }> {
    assertProcessId(processId);
    assertProcessStatus(status);
    const record = this.record(processId);
    const previous = record.status;
    if (previous && previous !== status && isTerminalStatus(previous)) {
      throw new ProcessAlreadyEndedError(processId, previous);
    }
    record.status = status;
    return { previous, status };
  }

  async exists(processId: string): Promise<boolean> {
    assertProcessId(processId);
    const record = this.processes.get(processId);
    return (
      record !== undefined &&
      (record.status !== null || record.messages.length > 0)
    );
  }

  async close(): Promise<void> {}

  private record(processId: string): ProcessRecord {
    let record = this.processes.get(processId);
    if (!record) {
      record = { status: null, messages: [], keys: new Map() };
      this.processes.set(processId, record);
    }
    return record;
  }
}

function toMessage({ payloadJson, ...fields }: StoredMessage): ProcessMessage {
  return { ...fields, payload: JSON.parse(payloadJson) };
}
