import { ProcessStreamReader } from '@streamgate/client';
import { SeededRandom } from './seeded.random';
import {
  ProcessRecord,
  ProcessWriteRecord,
  SseConnectionRecord,
  SseReaderRecord,
} from './soak.record';
import { TokenSigner } from './token.signer';

export interface ProcessTrafficContext {
  readonly nodeCount: number;
  url(node: number): string;
  isUp(node: number): boolean;
  now(): number;
  readonly signer: TokenSigner;
  readonly prefix: string;
  readonly defect: ReadonlySet<string>;
}

const WRITE_TIMEOUT_MS = 20_000;

/**
 * Agent process traffic: writers append messages over
 * `POST /processes/:id/messages` to random nodes and end each process with
 * `PUT /processes/:id/status`; SSE readers (the SDK's `ProcessStreamReader`)
 * follow each process from its start, from its middle and after its end.
 * A recording `fetch` under each reader keeps the raw frames of every
 * connection, so that duplicates the reader drops are still seen.
 */
export class ProcessTraffic {
  readonly records: ProcessRecord[] = [];
  private readonly readers = new Set<ProcessStreamReader>();
  private readonly runners = new Set<Promise<void>>();
  private readonly writerToken: string;
  private readonly adminToken: string;
  private stopping = false;
  private counter = 0;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly context: ProcessTrafficContext,
    private readonly random: SeededRandom,
    private readonly concurrency: number,
  ) {
    this.writerToken = context.signer.sign('process-writer', [
      'processes:write',
    ]);
    this.adminToken = context.signer.sign('process-auditor', ['*']);
  }

  start(): void {
    this.loop = (async () => {
      while (!this.stopping) {
        while (this.runners.size < this.concurrency && !this.stopping) {
          const runner = this.runProcess().finally(() =>
            this.runners.delete(runner),
          );
          this.runners.add(runner);
        }
        await sleep(200);
      }
    })();
  }

  /** Ends every process soon, then waits until each reader got its `end`; returns how many did not. */
  async finish(timeoutMs: number): Promise<number> {
    this.stopping = true;
    await this.loop;
    await Promise.allSettled([...this.runners]);
    const deadline = Date.now() + timeoutMs;
    const open = () =>
      this.records.flatMap((p) => p.readers).filter((r) => r.ended === null);
    while (open().length > 0 && Date.now() < deadline) await sleep(250);
    const left = open().length;
    for (const reader of this.readers) reader.stop();
    return left;
  }

  /** Reads every process's messages from the store (JSON pages), the truth the streams are checked against. */
  async collectStores(): Promise<void> {
    for (const process of this.records) {
      process.stored = await this.readStore(process.id).catch(() => null);
    }
  }

  private async runProcess(): Promise<void> {
    const id = `${this.context.prefix}-p${++this.counter}`;
    const record: ProcessRecord = {
      id,
      startedAt: this.context.now(),
      writes: [],
      endStatus: null,
      endedAt: null,
      readers: [],
      stored: null,
    };
    this.records.push(record);
    // A process exists for readers once it has a status.
    await this.setStatus(id, 'running');
    this.follow(record, 'from-start');
    const messages = this.random.int(15, 50);
    const midway = this.random.int(1, messages - 1);
    for (let i = 0; i < messages && !this.stopping; i++) {
      if (i === midway) this.follow(record, 'midway');
      await sleep(this.random.between(100, 400));
      await this.write(record, i);
    }
    await this.setStatus(id, 'completed');
    record.endStatus = 'completed';
    record.endedAt = this.context.now();
    this.follow(record, 'after-end');
  }

  private pickNode(): number {
    const all = Array.from({ length: this.context.nodeCount }, (_, i) => i);
    const up = all.filter((n) => this.context.isUp(n));
    return this.random.pick(up.length > 0 ? up : all);
  }

  private async write(record: ProcessRecord, i: number): Promise<void> {
    const node = this.pickNode();
    const write: ProcessWriteRecord = {
      w: `${record.id}-w${i}`,
      sentAt: this.context.now(),
      node,
      settledAt: null,
      status: null,
      seq: null,
      error: null,
    };
    record.writes.push(write);
    try {
      const response = await fetch(
        `${this.context.url(node)}/processes/${record.id}/messages`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${this.writerToken}`,
          },
          body: JSON.stringify({ type: 'text', payload: { w: write.w, i } }),
          signal: AbortSignal.timeout(WRITE_TIMEOUT_MS),
        },
      );
      write.status = response.status;
      const body = (await response.json().catch(() => null)) as {
        seq?: number;
        message?: string;
      } | null;
      if (response.status === 201) write.seq = body?.seq ?? null;
      else write.error = String(body?.message ?? response.statusText);
    } catch (error) {
      write.error = (error as Error)?.message ?? String(error);
    } finally {
      write.settledAt = this.context.now();
    }
  }

  /** Sets the status, retrying through outages until the store answers. */
  private async setStatus(id: string, status: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(
          `${this.context.url(this.pickNode())}/processes/${id}/status`,
          {
            method: 'PUT',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${this.writerToken}`,
            },
            body: JSON.stringify({ status }),
            signal: AbortSignal.timeout(WRITE_TIMEOUT_MS),
          },
        );
        await response.text();
        if (response.status === 200) return;
        if (response.status === 409 && status !== 'running') return;
      } catch {
        // unreachable node or store: try again
      }
      if (attempt >= 120)
        throw new Error(`Could not set process ${id} to ${status}.`);
      await sleep(500);
    }
  }

  private follow(process: ProcessRecord, name: string): void {
    const record: SseReaderRecord = {
      name,
      processId: process.id,
      delivered: [],
      ended: null,
      connections: [],
      errors: [],
    };
    process.readers.push(record);
    const token = this.context.signer.sign(`reader-${process.id}-${name}`, [
      `process:${process.id}`,
    ]);
    const reader = new ProcessStreamReader({
      url: this.context.url(0),
      processId: process.id,
      token,
      fetch: this.recordingFetch(record),
      reconnect: { initialDelayMs: 200, maxDelayMs: 2000 },
    });
    this.readers.add(reader);
    let dropped = false;
    reader.onMessage((message) => {
      // The `sse` defect loses one message of one reader from the record.
      if (
        this.context.defect.has('sse') &&
        !dropped &&
        message.seq === 5 &&
        name === 'from-start'
      ) {
        dropped = true;
        return;
      }
      record.delivered.push(message.seq);
    });
    reader.onEnd((end) => {
      record.ended = end.status ?? end.reason ?? 'ended';
      this.readers.delete(reader);
    });
    reader.onError((error) => {
      if (record.errors.length < 20) record.errors.push(error.message);
    });
    reader.onStateChange((state) => {
      if (state === 'failed') {
        record.errors.push('the reader failed for good');
        this.readers.delete(reader);
      }
    });
    reader.start();
  }

  /** A `fetch` that sends each attempt to a random node and records the raw frames it gets. */
  private recordingFetch(record: SseReaderRecord): typeof fetch {
    return async (input, init) => {
      const node = this.pickNode();
      const target = new URL(
        String(input instanceof Request ? input.url : input),
      );
      const url = `${this.context.url(node)}${target.pathname}${target.search}`;
      const headers = new Headers(init?.headers);
      const connection: SseConnectionRecord = {
        node,
        lastEventId: Number(headers.get('Last-Event-ID') ?? 0),
        openedAt: this.context.now(),
        status: null,
        seqs: [],
        statuses: [],
        end: null,
        closedAt: null,
      };
      record.connections.push(connection);
      let response: Response;
      try {
        response = await fetch(url, init);
      } catch (error) {
        connection.closedAt = this.context.now();
        throw error;
      }
      connection.status = response.status;
      if (!response.ok || !response.body) {
        connection.closedAt = this.context.now();
        return response;
      }
      const [forReader, forRecord] = response.body.tee();
      void recordFrames(forRecord, connection, () => this.context.now());
      return new Response(forReader, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    };
  }

  private async readStore(
    id: string,
  ): Promise<{ seq: number; w: string | null }[]> {
    const messages: { seq: number; w: string | null }[] = [];
    let after = 0;
    for (let attempt = 0; ;) {
      try {
        const response = await fetch(
          `${this.context.url(this.pickNode())}/processes/${id}/messages?after=${after}&limit=1000`,
          {
            headers: {
              accept: 'application/json',
              authorization: `Bearer ${this.adminToken}`,
            },
            signal: AbortSignal.timeout(WRITE_TIMEOUT_MS),
          },
        );
        if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
        const page = (await response.json()) as {
          messages: { seq: number; payload?: { w?: unknown } }[];
          nextAfter: number;
        };
        for (const m of page.messages)
          messages.push({
            seq: m.seq,
            w: typeof m.payload?.w === 'string' ? m.payload.w : null,
          });
        if (page.messages.length === 0) return messages;
        after = page.nextAfter;
      } catch (error) {
        if (++attempt >= 20) throw error;
        await sleep(500);
      }
    }
  }
}

/** Parses SSE frames from the raw body: message seqs, status changes and the end. */
async function recordFrames(
  body: ReadableStream<Uint8Array>,
  connection: SseConnectionRecord,
  now: () => number,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let split: number;
      while ((split = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, split);
        buffer = buffer.slice(split + 2);
        recordFrame(frame, connection);
      }
    }
  } catch {
    // the connection broke; what arrived is recorded
  } finally {
    connection.closedAt = now();
  }
}

function recordFrame(frame: string, connection: SseConnectionRecord): void {
  let event = 'message';
  const data: string[] = [];
  for (const line of frame.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return;
  let body: { seq?: unknown; status?: unknown; reason?: unknown };
  try {
    body = JSON.parse(data.join('\n'));
  } catch {
    return;
  }
  if (event === 'message' && typeof body.seq === 'number')
    connection.seqs.push(body.seq);
  else if (event === 'status') connection.statuses.push(String(body.status));
  else if (event === 'end')
    connection.end = String(body.status ?? body.reason ?? 'ended');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
