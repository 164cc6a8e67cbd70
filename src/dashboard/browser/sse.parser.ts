/** One dispatched Server-Sent Event. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
  /** The last event id seen so far in the stream (the spec's "last event ID buffer"). */
  readonly lastEventId: string;
}

/**
 * Incremental parser for `text/event-stream` as the HTML spec defines it,
 * for reading SSE through `fetch` (which, unlike EventSource, can send an
 * Authorization header). Feed it decoded text in chunks of any size.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private eventType = '';
  private lastId = '';
  /** The reconnection time the server asked for with `retry:`, if any. */
  retryMs: number | null = null;

  get lastEventId(): string {
    return this.lastId;
  }

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A chunk may end between CR and LF; wait for the next one to know.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return null;
  }

  private dispatch(): SseEvent | null {
    const data = this.data;
    const type = this.eventType;
    this.data = [];
    this.eventType = '';
    if (data.length === 0) return null;
    return {
      event: type || 'message',
      data: data.join('\n'),
      lastEventId: this.lastId,
    };
  }
}
