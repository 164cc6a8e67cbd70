import { ClientRequest, IncomingMessage, request } from 'node:http';

/** One SSE frame, or one NDJSON line as `{ event, json }`. */
export interface StreamFrame {
  /** `message`, `status`, `end`, `heartbeat` (SSE comment or NDJSON), or `retry`. */
  readonly event: string;
  readonly id?: string;
  readonly data?: string;
  readonly json?: any;
}

export interface OpenStreamOptions {
  readonly token?: string;
  readonly accept?: string;
  readonly lastEventId?: string;
  /** Request headers to add. */
  readonly headers?: Record<string, string>;
}

/**
 * A raw HTTP client for the process stream: parses SSE or NDJSON as it
 * arrives, can pause reading (a slow client) and hang up (a leaving one).
 */
export class StreamReader {
  readonly frames: StreamFrame[] = [];
  body = '';
  private buffer = '';
  private waiters: (() => void)[] = [];
  private endedFlag = false;
  readonly ended: Promise<void>;

  private constructor(
    private readonly req: ClientRequest,
    readonly res: IncomingMessage,
    private readonly mode: 'sse' | 'ndjson' | 'raw',
  ) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.feed(chunk));
    this.ended = new Promise((resolve) => {
      const done = () => {
        this.endedFlag = true;
        this.notify();
        resolve();
      };
      res.once('end', done);
      res.once('close', done);
      res.once('error', done);
    });
  }

  static open(
    url: string,
    options: OpenStreamOptions = {},
  ): Promise<StreamReader> {
    const accept = options.accept ?? 'text/event-stream';
    const headers: Record<string, string> = { accept, ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.lastEventId !== undefined)
      headers['last-event-id'] = options.lastEventId;
    return new Promise((resolve, reject) => {
      // Its own socket, so that hanging up affects only this stream.
      const req = request(url, { headers, agent: false }, (res) => {
        const type = String(res.headers['content-type'] ?? '');
        const mode = type.startsWith('text/event-stream')
          ? 'sse'
          : type.startsWith('application/x-ndjson')
            ? 'ndjson'
            : 'raw';
        resolve(new StreamReader(req, res, mode));
      });
      req.on('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  get isEnded(): boolean {
    return this.endedFlag;
  }

  /** Messages received so far (SSE `message` events or NDJSON `message` lines), parsed. */
  get messages(): any[] {
    return this.frames
      .filter((f) => f.event === 'message')
      .map((f) => (this.mode === 'sse' ? JSON.parse(f.data!) : f.json.message));
  }

  get seqs(): number[] {
    return this.messages.map((m) => m.seq);
  }

  count(event: string): number {
    return this.frames.filter((f) => f.event === event).length;
  }

  /** Resolves once `check` holds; rejects after `timeoutMs`, saying what was received. */
  async until(
    check: (reader: this) => boolean,
    what: string,
    timeoutMs = 10_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (this.endedFlag && !check(this)) {
        throw new Error(
          `The stream ended before ${what}; got ${this.describe()}.`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `Timed out waiting for ${what}; got ${this.describe()}.`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  untilSeq(seq: number, timeoutMs?: number): Promise<void> {
    return this.until((r) => r.seqs.includes(seq), `seq ${seq}`, timeoutMs);
  }

  async json(): Promise<any> {
    await this.ended;
    return JSON.parse(this.body);
  }

  pause(): void {
    this.res.pause();
  }

  resume(): void {
    this.res.resume();
  }

  /** Hangs up, as a browser tab that closes. */
  close(): void {
    this.req.destroy();
    this.res.destroy();
  }

  private describe(): string {
    const seqs = this.seqs;
    const events = this.frames
      .filter((f) => f.event !== 'message')
      .map((f) => f.event);
    return `${seqs.length} messages (last seq ${seqs[seqs.length - 1] ?? 'none'}), other frames [${events.slice(-10).join(', ')}], status ${this.status}`;
  }

  private feed(chunk: string): void {
    if (this.mode === 'raw') {
      this.body += chunk;
      return;
    }
    this.buffer += chunk;
    const separator = this.mode === 'sse' ? '\n\n' : '\n';
    let index: number;
    while ((index = this.buffer.indexOf(separator)) >= 0) {
      const block = this.buffer.slice(0, index);
      this.buffer = this.buffer.slice(index + separator.length);
      if (this.mode === 'ndjson') {
        const json = JSON.parse(block);
        this.frames.push({ event: json.event, json });
      } else {
        this.frames.push(parseSse(block));
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

function parseSse(block: string): StreamFrame {
  const fields: Record<string, string> = {};
  let comment: string | undefined;
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) {
      comment = line.slice(1).trim();
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    fields[name] =
      fields[name] === undefined ? value : `${fields[name]}\n${value}`;
  }
  if (comment !== undefined && Object.keys(fields).length === 0) {
    return {
      event: comment === 'heartbeat' ? 'heartbeat' : `comment:${comment}`,
    };
  }
  if (fields.retry !== undefined && fields.data === undefined) {
    return { event: 'retry', data: fields.retry };
  }
  return { event: fields.event ?? 'message', id: fields.id, data: fields.data };
}
