import { SseParser } from './sse.parser';
import { errorText } from './token.source';

/** A process message as the server streams it. */
export interface ProcessMessageView {
  readonly seq: number;
  readonly type: string;
  readonly agent?: string;
  readonly model?: string;
  readonly turn?: number;
  readonly payload: unknown;
  readonly createdAt?: string;
}

export type ProcessStreamState =
  'connecting' | 'open' | 'retrying' | 'ended' | 'failed' | 'stopped';

export interface ProcessStreamListener {
  onState(state: ProcessStreamState, detail?: string): void;
  onMessage(message: ProcessMessageView): void;
  onStatus(status: string, previous: string | null): void;
  onEnd(status: string): void;
}

type Outcome = 'ended' | 'retry' | 'fatal';

const MAX_RETRY_MS = 30_000;

/**
 * Follows `GET /processes/:id/messages` as Server-Sent Events over `fetch`
 * (EventSource cannot send an Authorization header). Resumes with
 * `Last-Event-ID` after a dropped connection and stops at `end`.
 */
export class ProcessStreamReader {
  private controller: AbortController | null = null;
  private lastEventId: string | null = null;
  private retryMs = 1000;
  private failures = 0;
  private problem = '';
  private stopped = false;

  constructor(
    readonly processId: string,
    private readonly token: () => Promise<string>,
    private readonly listener: ProcessStreamListener,
  ) {}

  start(): void {
    // Nobody awaits the loop; it reports everything through the listener.
    this.loop().catch((error: unknown) =>
      this.listener.onState(
        'failed',
        (error as Error)?.message ?? String(error),
      ),
    );
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.controller?.abort();
    this.listener.onState('stopped');
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const outcome = await this.once();
      if (outcome !== 'retry' || this.stopped) return;
      const delay = Math.min(
        MAX_RETRY_MS,
        this.retryMs * 2 ** Math.min(this.failures++, 5),
      );
      this.listener.onState(
        'retrying',
        `${this.problem}; reconnecting in ${(delay / 1000).toFixed(1)} s`,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  private async once(): Promise<Outcome> {
    this.controller = new AbortController();
    this.listener.onState('connecting');
    let response: Response;
    try {
      const headers: Record<string, string> = {
        Accept: 'text/event-stream',
        Authorization: `Bearer ${await this.token()}`,
      };
      if (this.lastEventId) headers['Last-Event-ID'] = this.lastEventId;
      response = await fetch(
        `/processes/${encodeURIComponent(this.processId)}/messages`,
        { headers, cache: 'no-store', signal: this.controller.signal },
      );
    } catch (error) {
      return this.stopped ? 'fatal' : this.retryAfter(error);
    }
    if (!response.ok) {
      const detail = `${response.status}: ${await errorText(response)}`;
      const transient =
        response.status >= 500 ||
        response.status === 408 ||
        response.status === 429;
      if (transient) return this.retryAfter(new Error(detail));
      this.listener.onState('failed', detail);
      return 'fatal';
    }
    if (!response.body) {
      this.listener.onState('failed', 'the response has no body to stream');
      return 'fatal';
    }
    this.failures = 0;
    this.listener.onState('open');
    const parser = new SseParser();
    const reader = response.body
      .pipeThrough(new TextDecoderStream())
      .getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) {
          if (event.lastEventId) this.lastEventId = event.lastEventId;
          if (this.handle(event.event, event.data) === 'end') {
            void reader.cancel();
            this.listener.onState('ended');
            return 'ended';
          }
        }
      }
    } catch (error) {
      if (this.stopped) return 'fatal';
      return this.retryAfter(error);
    } finally {
      if (parser.retryMs !== null) this.retryMs = parser.retryMs;
    }
    return this.stopped
      ? 'fatal'
      : this.retryAfter(new Error('the stream closed'));
  }

  private handle(type: string, data: string): 'end' | null {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(data) as Record<string, unknown>;
    } catch {
      console.warn(
        '[dashboard] Ignored a process event that is not JSON:',
        data,
      );
      return null;
    }
    if (type === 'message') this.listener.onMessage(body as never);
    else if (type === 'status')
      this.listener.onStatus(
        String(body.status),
        typeof body.previous === 'string' ? body.previous : null,
      );
    else if (type === 'end') {
      this.listener.onEnd(String(body.status));
      return 'end';
    }
    return null;
  }

  private retryAfter(error: unknown): Outcome {
    this.problem = (error as Error)?.message ?? String(error);
    return 'retry';
  }
}
