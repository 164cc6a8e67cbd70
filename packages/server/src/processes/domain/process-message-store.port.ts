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
 * Durable, ordered messages of agent processes (one process = one agent run).
 *
 * Every method rejects with `InvalidProcessMessageError` (naming the field)
 * before touching the backend when an argument is malformed, and adapters
 * backed by a server reject with `ProcessMessageStoreUnavailableError` when it
 * cannot be reached.
 */
export interface ProcessMessageStore {
  /**
   * Validates and stores a message under the next seq of the process (1 for
   * the first), atomically even with many writers on the same backend. Rejects
   * with `ProcessAlreadyEndedError` once the process status is terminal,
   * unless the idempotency key names a message stored before the end.
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
   * Moves the process to `status`. Setting the status it already has is a
   * no-op that reports `previous === status`; leaving a terminal status
   * rejects with `ProcessAlreadyEndedError`.
   */
  setStatus(
    processId: string,
    status: ProcessStatus,
  ): Promise<{ previous: ProcessStatus | null; status: ProcessStatus }>;
  /** Whether the process has a status or at least one message. */
  exists(processId: string): Promise<boolean>;
  /** Releases connections the store opened itself; injected clients stay open. */
  close(): Promise<void>;
}

export const ProcessMessageStore = Symbol('ProcessMessageStore');
