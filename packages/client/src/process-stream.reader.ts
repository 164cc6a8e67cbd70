import {
  ProcessMessage,
  ProcessStatus,
  ProcessStreamEndReason,
  ProcessStreamEvent,
} from '@streamgate/protocol';
import { createParser, EventSourceMessage } from 'eventsource-parser';
import {
  backoffDelay,
  BackoffSettings,
  DEFAULT_BACKOFF,
} from './backoff.policy';
import {
  InvalidClientOptionsError,
  StreamgateClientError,
  describeCause,
} from './client.errors';
import { ReconnectOptions, TokenSource } from './client.options';
import { ListenerSet, Unsubscribe } from './listener-set';

const TOKEN_EXPIRED: ProcessStreamEndReason = 'token_expired';

/**
 * - `idle`: created, `start()` not called yet;
 * - `connecting`: a request is under way;
 * - `open`: the server is streaming (history first, then live);
 * - `retrying`: the connection failed or dropped, waiting to resume;
 * - `ended`: the process reached a terminal status, or the server ended the stream for good;
 * - `failed`: the server refused the request in a way a retry cannot fix (401, 403, 404, ...);
 * - `stopped`: `stop()` was called.
 */
export type ProcessStreamState =
  'idle' | 'connecting' | 'open' | 'retrying' | 'ended' | 'failed' | 'stopped';

/**
 * How the stream ended: the terminal status, or the server's reason
 * (`revoked`). An `end` with `token_expired` is not an end for the app: the
 * reader resumes at once with a fresh token and `Last-Event-ID`.
 */
export interface ProcessStreamEnd {
  readonly status?: ProcessStatus;
  readonly reason?: string;
}

export interface ProcessStreamReaderOptions {
  /** Base URL of the server, e.g. `https://api.example.com` (a path prefix is kept). */
  url: string;
  /** The process to follow. */
  processId: string;
  /** Bearer token, or a function returning one (possibly async); the function is called before every request. */
  token: TokenSource;
  /**
   * Resume after this message `seq` (what `Last-Event-ID` carries).
   * @default 0 (the whole history)
   */
  after?: number;
  /** Backoff between attempts after a dropped or failed connection; the server's `retry:` is the starting delay. */
  reconnect?: ReconnectOptions;
  /**
   * The `fetch` to use, e.g. to add credentials or a proxy.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
}

/**
 * Follows `GET /processes/:id/messages` as Server-Sent Events over `fetch`
 * (an `EventSource` cannot send an `Authorization` header): history first,
 * then live messages, each once and in order. After a dropped connection it
 * resumes with `Last-Event-ID`, asking for a fresh token first, and it stops
 * at `end`, except an `end` for an expired token, after which it resumes.
 */
export class ProcessStreamReader {
  private readonly options: ResolvedReaderOptions;
  private readonly messageHandlers = new ListenerSet<[ProcessMessage]>();
  private readonly statusHandlers = new ListenerSet<
    [ProcessStatus, ProcessStatus | null]
  >();
  private readonly endHandlers = new ListenerSet<[ProcessStreamEnd]>();
  private readonly stateHandlers = new ListenerSet<[ProcessStreamState]>();
  private readonly errorHandlers = new ListenerSet<[StreamgateClientError]>();
  private currentState: ProcessStreamState = 'idle';
  private controller: AbortController | null = null;
  private lastSeq: number;
  private serverRetryMs: number | null = null;
  private failures = 0;

  constructor(options: ProcessStreamReaderOptions) {
    this.options = resolveReaderOptions(options);
    this.lastSeq = this.options.after;
  }

  get state(): ProcessStreamState {
    return this.currentState;
  }

  /** The seq of the last message delivered, the position a restart resumes from. */
  get lastEventId(): number {
    return this.lastSeq;
  }

  /** Each message once, in seq order. */
  onMessage(handler: (message: ProcessMessage) => unknown): Unsubscribe {
    return this.messageHandlers.add(handler);
  }

  /** Status changes while the stream is open. */
  onStatus(
    handler: (status: ProcessStatus, previous: ProcessStatus | null) => unknown,
  ): Unsubscribe {
    return this.statusHandlers.add(handler);
  }

  /** The stream is over: the process ended, or the server ended the stream for good. */
  onEnd(handler: (end: ProcessStreamEnd) => unknown): Unsubscribe {
    return this.endHandlers.add(handler);
  }

  onStateChange(handler: (state: ProcessStreamState) => unknown): Unsubscribe {
    return this.stateHandlers.add(handler);
  }

  /** Connection failures, refusals and malformed frames. None of them stops a retryable stream. */
  onError(handler: (error: StreamgateClientError) => unknown): Unsubscribe {
    return this.errorHandlers.add(handler);
  }

  /** Starts following; does nothing while already running. */
  start(): void {
    if (this.currentState !== 'idle' && this.currentState !== 'stopped') return;
    this.failures = 0;
    // Nobody awaits the loop; it reports everything through the handlers.
    this.loop().catch((error: unknown) => {
      this.report(
        new StreamgateClientError(
          `The process stream stopped: ${describeCause(error)}`,
          { cause: error },
        ),
      );
      this.setState('failed');
    });
  }

  /** Stops following and aborts the request in progress. */
  stop(): void {
    if (this.currentState === 'stopped') return;
    this.setState('stopped');
    this.controller?.abort();
  }

  private get running(): boolean {
    return (
      this.currentState !== 'stopped' &&
      this.currentState !== 'ended' &&
      this.currentState !== 'failed'
    );
  }

  private async loop(): Promise<void> {
    this.setState('connecting');
    while (this.running) {
      const outcome = await this.once();
      if (outcome === 'resume' && this.running) {
        // The token expired: resume at once with a fresh one and Last-Event-ID.
        this.setState('connecting');
        continue;
      }
      if (outcome !== 'retry' || !this.running) return;
      const base = this.serverRetryMs ?? this.options.reconnect.initialDelayMs;
      const delay = backoffDelay(this.failures++, {
        ...this.options.reconnect,
        initialDelayMs: base,
        maxDelayMs: Math.max(base, this.options.reconnect.maxDelayMs),
      });
      this.setState('retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.running) this.setState('connecting');
    }
  }

  private async once(): Promise<'ended' | 'resume' | 'retry' | 'fatal'> {
    const controller = new AbortController();
    this.controller = controller;
    let response: Response;
    try {
      const headers: Record<string, string> = {
        Accept: 'text/event-stream',
        Authorization: `Bearer ${await this.fetchToken()}`,
      };
      if (this.lastSeq > 0) headers['Last-Event-ID'] = String(this.lastSeq);
      response = await this.options.fetch(this.options.streamUrl, {
        headers,
        cache: 'no-store',
        signal: controller.signal,
      });
    } catch (error) {
      if (!this.running) return 'fatal';
      this.report(
        new StreamgateClientError(
          `Could not reach the process stream (${describeCause(error)}); retrying.`,
          { cause: error },
        ),
      );
      return 'retry';
    }
    if (!response.ok) return this.refused(response);
    if (!response.body) {
      this.report(
        new StreamgateClientError('The response has no body to stream.'),
      );
      this.setState('failed');
      return 'fatal';
    }
    this.failures = 0;
    this.setState('open');
    let ended: ProcessStreamEnd | null = null;
    const parser = createParser({
      onEvent: (event) => {
        if (ended === null) ended = this.handle(event);
      },
      onRetry: (ms) => {
        this.serverRetryMs = ms;
      },
    });
    const reader = response.body
      .pipeThrough(new TextDecoderStream())
      .getReader();
    try {
      while (ended === null) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch (error) {
      if (!this.running) return 'fatal';
      this.report(
        new StreamgateClientError(
          `The process stream broke off (${describeCause(error)}); resuming.`,
          { cause: error },
        ),
      );
      return 'retry';
    } finally {
      void reader.cancel().catch(() => undefined);
    }
    if (ended !== null && (ended as ProcessStreamEnd).reason === TOKEN_EXPIRED)
      return 'resume';
    if (ended !== null) {
      this.setState('ended');
      this.endHandlers.emit([ended], this.handlerFailed('onEnd'));
      return 'ended';
    }
    return this.running ? 'retry' : 'fatal';
  }

  /** Handles one frame; returns how the stream ended when it is an `end`. */
  private handle(event: EventSourceMessage): ProcessStreamEnd | null {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(event.data) as Record<string, unknown>;
    } catch {
      this.report(
        new StreamgateClientError(
          `Ignored a process stream frame whose data is not JSON: ${event.data.slice(0, 80)}`,
        ),
      );
      return null;
    }
    switch (event.event ?? ProcessStreamEvent.message) {
      case ProcessStreamEvent.message: {
        const message = body as unknown as ProcessMessage;
        // Resent history after a resume is dropped here, so the app sees each seq once.
        if (!Number.isSafeInteger(message.seq) || message.seq <= this.lastSeq)
          return null;
        this.lastSeq = message.seq;
        this.messageHandlers.emit([message], this.handlerFailed('onMessage'));
        return null;
      }
      case ProcessStreamEvent.status:
        this.statusHandlers.emit(
          [
            body.status as ProcessStatus,
            (body.previous as ProcessStatus | null) ?? null,
          ],
          this.handlerFailed('onStatus'),
        );
        return null;
      case ProcessStreamEvent.end:
        return {
          ...(typeof body.status === 'string' && {
            status: body.status as ProcessStatus,
          }),
          ...(typeof body.reason === 'string' && { reason: body.reason }),
        };
      default:
        return null;
    }
  }

  private async refused(response: Response): Promise<'retry' | 'fatal'> {
    const detail = `${response.status}: ${await errorText(response)}`;
    const transient =
      response.status >= 500 ||
      response.status === 408 ||
      response.status === 429;
    this.report(
      new StreamgateClientError(
        transient
          ? `The server could not stream process "${this.options.processId}" (${detail}); retrying.`
          : `The server refused to stream process "${this.options.processId}" (${detail}).`,
      ),
    );
    if (transient) return 'retry';
    this.setState('failed');
    return 'fatal';
  }

  private async fetchToken(): Promise<string> {
    const source = this.options.token;
    const token = typeof source === 'function' ? await source() : source;
    if (typeof token !== 'string' || token.length === 0) {
      throw new StreamgateClientError(
        'The token function returned no token; it will be called again before the next attempt.',
      );
    }
    return token;
  }

  private setState(state: ProcessStreamState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.stateHandlers.emit([state], this.handlerFailed('onStateChange'));
  }

  private handlerFailed(listener: string): (error: unknown) => void {
    return (error) =>
      this.report(
        new StreamgateClientError(
          `The app's ${listener} handler failed: ${describeCause(error)}`,
          { cause: error },
        ),
      );
  }

  private report(error: StreamgateClientError): void {
    if (this.errorHandlers.size === 0) {
      globalThis.console?.error('[streamgate]', error);
      return;
    }
    this.errorHandlers.emit([error], (e) =>
      globalThis.console?.error('[streamgate]', e),
    );
  }
}

interface ResolvedReaderOptions {
  readonly streamUrl: string;
  readonly processId: string;
  readonly token: TokenSource;
  readonly after: number;
  readonly reconnect: BackoffSettings;
  readonly fetch: typeof fetch;
}

function resolveReaderOptions(
  options: ProcessStreamReaderOptions,
): ResolvedReaderOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidClientOptionsError(
      'new ProcessStreamReader(options) needs an options object with "url", "processId" and "token".',
    );
  }
  let base: URL;
  try {
    base = new URL(String(options.url));
  } catch {
    throw new InvalidClientOptionsError(
      `"url" must be an absolute http(s) URL such as 'https://api.example.com' (got ${JSON.stringify(options.url)}).`,
    );
  }
  if (typeof options.processId !== 'string' || options.processId === '') {
    throw new InvalidClientOptionsError(
      `"processId" must be a non-empty string (got ${JSON.stringify(options.processId)}).`,
    );
  }
  const token = options.token;
  if (!(typeof token === 'function' || (typeof token === 'string' && token))) {
    throw new InvalidClientOptionsError(
      '"token" must be a non-empty string or a function that returns one (or a promise of one).',
    );
  }
  const after = options.after ?? 0;
  if (!Number.isSafeInteger(after) || after < 0) {
    throw new InvalidClientOptionsError(
      `"after" must be a message seq, a whole number from 0 (got ${JSON.stringify(after)}).`,
    );
  }
  const fetchImpl = options.fetch ?? globalThis.fetch?.bind(globalThis);
  if (typeof fetchImpl !== 'function') {
    throw new InvalidClientOptionsError(
      'No fetch is available here; pass one as "fetch".',
    );
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  return {
    streamUrl: `${base.origin}${prefix}/processes/${encodeURIComponent(options.processId)}/messages`,
    processId: options.processId,
    token,
    after,
    reconnect: {
      ...DEFAULT_BACKOFF,
      ...Object.fromEntries(
        Object.entries(options.reconnect ?? {}).filter(
          ([, v]) => v !== undefined,
        ),
      ),
    },
    fetch: fetchImpl,
  };
}

async function errorText(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: unknown };
    const message = Array.isArray(body.message)
      ? body.message.join('; ')
      : body.message;
    return typeof message === 'string' ? message : response.statusText;
  } catch {
    return response.statusText;
  }
}
