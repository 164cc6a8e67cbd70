import {
  BeforeApplicationShutdown,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  Optional,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import {
  AccessSessions,
  SessionHandle,
  SessionLimitError,
} from '../../access/access-sessions';
import { Principal } from '../../access/principal';
import { WILDCARD_SCOPE } from '../../event-bus/domain/scope';
import { processScope } from '../process-events.protocol';
import type { ProcessStatus } from '../domain/process-message';
import { ProcessMessageStore } from '../domain/process-message-store.port';
import { ProcessMessagesService } from '../process-messages.service';
import { ProcessesMessages } from '../processes.messages';
import type { ResolvedProcessesOptions } from '../processes.options';
import { RESOLVED_PROCESSES_OPTIONS } from '../processes.tokens';
import {
  ProcessMessageStream,
  ProcessMessageStreamStats,
  StreamOutput,
} from './process-message.stream';
import { ProcessStreamFormat } from './process-stream.formats';
import { ProcessStreamRouter } from './process-stream.router';
import { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import type { PartitionedDeliveryHub } from '../../event-bus/hub/partitioned-delivery-hub';
import { ProcessStreamHub, processStreamHub } from './process-stream-hub';

export interface OpenProcessStreamRequest {
  readonly processId: string;
  /** Send messages with a seq greater than this. */
  readonly after: number;
  /** Where `after` came from, named in errors: `after` or `Last-Event-ID`. */
  readonly cursorField: string;
  readonly format: ProcessStreamFormat;
  readonly output: StreamOutput;
  /** Writes the response headers; called once the request is known to be valid. */
  readonly begin: () => void;
  /**
   * Who opened the stream: it ends when this principal's token expires or
   * is revoked, and counts against the user's stream limit.
   * @default none (an in-process stream, not tracked)
   */
  readonly principal?: Principal;
}

/** Opens, tracks and (on shutdown) ends the process streams of this node. */
@Injectable()
export class ProcessStreamsService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ProcessStreamsService.name);
  private readonly streams = new Set<ProcessMessageStream>();
  private shuttingDown = false;
  private failures = 0;
  private readonly totals: ProcessMessageStreamStats = {
    resyncs: 0,
    overflows: 0,
  };
  private lastFailureLog = 0;

  constructor(
    // The bus's hub: a PartitionedDeliveryHub when the log is partitioned.
    @Inject(DeliveryHub)
    private readonly hub: DeliveryHub | PartitionedDeliveryHub,
    private readonly router: ProcessStreamRouter,
    private readonly messages: ProcessMessagesService,
    @Inject(ProcessMessageStore) private readonly store: ProcessMessageStore,
    @Inject(RESOLVED_PROCESSES_OPTIONS)
    private readonly options: ResolvedProcessesOptions,
    @Optional() private readonly sessions?: AccessSessions,
  ) {
    this.follower = processStreamHub(hub);
  }

  /** How a stream makes sure the live path carries its process's announcements. */
  private readonly follower: ProcessStreamHub;

  /** Streams open on this node right now. */
  get activeStreams(): number {
    return this.streams.size;
  }

  /** Store re-reads and dropped live buffers of all streams since start. */
  get stats(): Readonly<ProcessMessageStreamStats> {
    return { ...this.totals };
  }

  /** Streams that stopped because the store failed, since start. */
  get streamFailures(): number {
    return this.failures;
  }

  /**
   * Checks the request, then streams. Rejects before anything is written
   * with `ProcessNotFoundError` or `CursorAheadOfProcessError`.
   */
  async open(request: OpenProcessStreamRequest): Promise<ProcessMessageStream> {
    const { processId, after } = request;
    if (this.shuttingDown) {
      throw new ServiceUnavailableException(
        'This node is shutting down; reconnect to another one.',
      );
    }
    const session = this.admit(request);
    let initialStatus: ProcessStatus | null;
    let unfollow: () => void;
    try {
      // Read before the response begins, so that every status change after
      // the request is reported, however soon it follows.
      [, initialStatus] = await Promise.all([
        this.messages.checkCursor(processId, after, request.cursorField),
        this.store.getStatus(processId),
      ]);
      // Before the first store read (in start()): whatever is announced
      // after this reaches the router, whatever before is in the store. On a
      // partitioned log this holds the reader of the process's partition
      // until the stream closes.
      unfollow = await this.follower
        .follow(processId)
        .catch((error: unknown) => {
          throw new ServiceUnavailableException(
            ProcessesMessages.hubUnavailable(error),
          );
        });
    } catch (error) {
      session?.handle?.close();
      throw error;
    }
    if (session?.ended) {
      unfollow();
      throw new UnauthorizedException(
        'The token expired or was revoked while the stream was opening.',
      );
    }
    const stream = new ProcessMessageStream({
      processId,
      after,
      store: this.store,
      format: request.format,
      output: request.output,
      heartbeatMs: this.options.heartbeatMs,
      pageSize: this.options.pageSize,
      queueLimit: this.options.queueLimit,
      initialStatus,
      onError: (error) => this.failed(processId, error),
      stats: this.totals,
    });
    // Registered before the first store read: the handover depends on it.
    const remove = this.router.add(processId, stream);
    this.streams.add(stream);
    if (session) session.stream = stream;
    stream.onClose(() => {
      remove();
      unfollow();
      this.streams.delete(stream);
      session?.handle?.close();
    });
    if (!stream.isClosed) {
      request.begin();
      stream.start();
      // Registered before this check, so a revocation or refreshUser during
      // the request is not missed (the guard's own check time is not known
      // here, so every recent refresh counts).
      void session?.handle?.recheck(0);
    }
    return stream;
  }

  /** Registers the stream's session; 429 when the user holds the most streams allowed. */
  private admit(request: OpenProcessStreamRequest): StreamSession | null {
    if (!this.sessions || !request.principal) return null;
    const session = new StreamSession(request.principal, request.processId);
    try {
      session.handle = this.sessions.open(
        'stream',
        session,
        this.options.maxStreamsPerUser,
      );
    } catch (error) {
      if (error instanceof SessionLimitError)
        throw new HttpException(
          `${error.message} Close one before opening another.`,
          HttpStatus.TOO_MANY_REQUESTS,
        );
      throw error;
    }
    return session;
  }

  /** Ends every open stream, so that the HTTP server can close; clients resume elsewhere. */
  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
    const count = this.streams.size;
    for (const stream of [...this.streams]) stream.close();
    if (count > 0) {
      this.logger.log(`Ended ${count} process stream(s) for shutdown.`);
    }
  }

  private failed(processId: string, error: unknown): void {
    this.failures++;
    // One line per 10 s at most: when the store is down every stream fails.
    if (Date.now() - this.lastFailureLog >= 10_000) {
      this.lastFailureLog = Date.now();
      this.logger.warn(ProcessesMessages.streamFailed(processId, error));
    }
  }
}

/** A process stream as the access layer sees it. */
class StreamSession {
  handle: SessionHandle | null = null;
  stream: ProcessMessageStream | null = null;
  private endedWith: 'token_expired' | 'revoked' | null = null;

  constructor(
    readonly principal: Principal,
    private readonly processId: string,
  ) {}

  end(reason: 'token_expired' | 'revoked'): void {
    this.endedWith = reason;
    this.stream?.end(reason);
  }

  /** `refreshUser`: a stream whose user lost the process's scope ends as revoked. */
  rescope(scopes: readonly string[]): void {
    if (
      !scopes.includes(WILDCARD_SCOPE) &&
      !scopes.includes(processScope(this.processId))
    )
      this.end('revoked');
  }

  get ended(): boolean {
    return this.endedWith !== null;
  }
}
