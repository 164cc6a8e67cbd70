import {
  createServer,
  IncomingMessage,
  Server,
  ServerResponse,
} from 'node:http';
import { AddressInfo } from 'node:net';
import { parsePartitionedEventId } from '@streamgate/protocol';
import { StoredEvent } from '../src/event-bus/domain/event';
import { PartitionLayout } from '../src/event-bus/domain/partitions';
import { resolveEventLogSettings } from '../src/event-bus/engine/event-log.settings';
import { PartitionedEventSubscription } from '../src/event-bus/engine/partitioned-consumers';
import { PartitionedDeliveryHub } from '../src/event-bus/hub/partitioned-delivery-hub';
import {
  partitionedPublisher,
  redisPartitionStores,
} from '../src/event-bus/partitioned-event-log';
import { InMemoryProcessMessageStore } from '../src/processes/adapters/in-memory/in-memory.process-message-store';
import { parseCursor } from '../src/processes/http/process-messages.params';
import { ProcessMessagesService } from '../src/processes/process-messages.service';
import { resolveProcessesOptions } from '../src/processes/processes.options';
import { SseFormat } from '../src/processes/streaming/process-stream.formats';
import { processPartition } from '../src/processes/streaming/process-stream-hub';
import { ProcessStreamRouter } from '../src/processes/streaming/process-stream.router';
import { ProcessStreamsService } from '../src/processes/streaming/process-streams.service';
import {
  RedisClusterHandle,
  startRedisCluster,
} from '../../../test/support/redis-cluster';

/**
 * The HTTP side of a partitioned log (P = 8) on a Redis Cluster of 3
 * primaries and 3 replicas: a process stream over SSE resumed with
 * Last-Event-ID on another node, and competing consumers across partitions.
 * Built on the engine and hub classes directly, as the module will wire
 * them. One cluster for the file; each case uses a prefix of its own.
 */
const P = 8;

let cluster: RedisClusterHandle;
let unique = 0;
const toClose: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ replicas: true });
}, 120_000);

afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

afterAll(async () => {
  await cluster?.stop();
});

const newPrefix = () => `ph${Date.now().toString(36)}${unique++}`;

/** One node's partitioned log: its own connection, readers and instance id. */
function logNode(layout: PartitionLayout, prefix: string) {
  const settings = resolveEventLogSettings({
    prefix,
    blockMs: 200,
    instanceId: `phn${unique++}`,
  });
  const partitions = redisPartitionStores(
    layout,
    prefix,
    { cluster: { nodes: [...cluster.nodes] } },
    { commandTimeoutMs: 5_000 },
  );
  toClose.push(() => partitions.close());
  return { settings, partitions };
}

async function until(
  check: () => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A node serving `GET /processes/:id/messages` as SSE, the way the
 * controller does: the cursor from `Last-Event-ID` (else `?after=`), the
 * headers once the request is known valid.
 */
async function processNode(
  layout: PartitionLayout,
  prefix: string,
  store: InMemoryProcessMessageStore,
) {
  const { settings, partitions } = logNode(layout, prefix);
  const hub = new PartitionedDeliveryHub(
    layout,
    partitions.stores,
    settings,
    {},
    {},
    { graceMs: 200 },
  );
  toClose.push(() => hub.stop());
  const internal = partitionedPublisher(partitions, settings, {
    reservedTypes: 'allowed',
  });
  const messages = new ProcessMessagesService(store, internal);
  const options = resolveProcessesOptions({
    driver: 'memory',
    // Far away: what follows the history can only come by the live path.
    heartbeatMs: 600_000,
  });
  const streams = new ProcessStreamsService(
    hub,
    new ProcessStreamRouter(hub),
    messages,
    store,
    options,
  );
  toClose.push(async () => streams.beforeApplicationShutdown());
  const server: Server = createServer(
    (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const processId = decodeURIComponent(url.pathname.split('/')[2] ?? '');
      const cursor = parseCursor(
        req.headers['last-event-id'] as string | undefined,
        url.searchParams.get('after') ?? undefined,
      );
      streams
        .open({
          processId,
          after: cursor.after,
          cursorField: cursor.field,
          format: new SseFormat(100),
          output: res,
          begin: () => {
            res.writeHead(200, { 'Content-Type': 'text/event-stream' });
            res.flushHeaders();
          },
        })
        .catch((error: { getStatus?: () => number }) => {
          res.writeHead(error.getStatus?.() ?? 500).end();
        });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  toClose.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { hub, messages, streams, url };
}

interface SseClient {
  readonly seqs: number[];
  readonly text: () => string;
  readonly ended: () => boolean;
  close(): void;
}

/** Reads an SSE response, collecting the ids of its `message` frames. */
function sse(url: string, lastEventId?: string): Promise<SseClient> {
  const abort = new AbortController();
  return fetch(url, {
    headers: {
      Accept: 'text/event-stream',
      ...(lastEventId !== undefined && { 'Last-Event-ID': lastEventId }),
    },
    signal: abort.signal,
  }).then((response) => {
    expect(response.status).toBe(200);
    const seqs: number[] = [];
    let text = '';
    let parsed = 0;
    let ended = false;
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    void (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
          // Whole frames only: a frame ends with a blank line.
          const end = text.lastIndexOf('\n\n');
          if (end < parsed) continue;
          for (const match of text.slice(parsed, end).matchAll(/^id: (\d+)$/gm))
            seqs.push(Number(match[1]));
          parsed = end;
        }
      } catch {
        // Aborted by close().
      }
      ended = true;
    })();
    return {
      seqs,
      text: () => text,
      ended: () => ended,
      close: () => abort.abort(),
    };
  });
}

describe('HTTP on a partitioned log (P = 8) on a Redis Cluster (3 primaries, 3 replicas)', () => {
  it('streams a process over SSE, resumed with Last-Event-ID on another node: every message once, in order', async () => {
    const layout = new PartitionLayout({
      partitions: P,
      partitionScope: 'process:',
    });
    const prefix = newPrefix();
    // The process store is shared by the nodes, as Redis or PostgreSQL is.
    const store = new InMemoryProcessMessageStore();
    const a = await processNode(layout, prefix, store);
    const b = await processNode(layout, prefix, store);
    let processId = 'run-0';
    for (let i = 1; processPartition(layout, processId) === 0; i++)
      processId = `run-${i}`;
    const partition = processPartition(layout, processId);
    const total = 120;
    let appended = 0;
    const append = () =>
      a.messages.append(processId, {
        type: 'text',
        payload: { n: ++appended },
      });
    for (let n = 0; n < 10; n++) await append();

    const first = await sse(`${a.url}/processes/${processId}/messages`);
    // The node reads only the process's partition.
    expect(a.hub.readers.active).toEqual([partition]);
    // The writer keeps going while the client reads, drops and resumes.
    const writer = (async () => {
      while (appended < total) {
        await append();
        if (appended % 10 === 0) await new Promise((r) => setTimeout(r, 15));
      }
      await a.messages.setStatus(processId, 'completed');
    })();
    await until(() => first.seqs.length >= 40, 'the first 40 messages');
    first.close();
    await until(() => first.ended(), 'the first connection to end');
    const last = first.seqs[first.seqs.length - 1];

    const resumed = await sse(
      `${b.url}/processes/${processId}/messages?after=0`,
      String(last),
    );
    expect(b.hub.readers.active).toEqual([partition]);
    await writer;
    await until(() => resumed.ended(), 'the stream to end with the process');
    expect(resumed.text()).toMatch(/event: end\ndata: {"status":"completed"}/);
    const all = [...first.seqs, ...resumed.seqs];
    expect(all).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(resumed.seqs[0]).toBe(last + 1);
    // The streams gave their partition back: the readers stop after the grace period.
    await until(
      () =>
        a.hub.readers.active.length === 0 && b.hub.readers.active.length === 0,
      'the readers to stop',
    );
  }, 60_000);

  it('shares each partition’s events among a group’s members across nodes: no loss, no duplicate per group, in order per partition', async () => {
    const layout = new PartitionLayout({
      partitions: P,
      partitionScope: 'tenant:',
    });
    const prefix = newPrefix();
    const writer = logNode(layout, prefix);
    const publisher = partitionedPublisher(writer.partitions, writer.settings);
    const tenantOf = new Map<number, string>();
    for (let i = 0; tenantOf.size < P - 1; i++) {
      const scope = `tenant:t${i}`;
      const k = layout.partitionOfKey(scope);
      if (k !== 0 && !tenantOf.has(k)) tenantOf.set(k, scope);
    }
    const scopeOf = (k: number) => (k === 0 ? 'user:any' : tenantOf.get(k)!);

    type Seen = { member: string; event: StoredEvent };
    const seen = new Map<string, Seen[]>();
    const member = async (group: string, name: string) => {
      const node = logNode(layout, prefix);
      const subscription = new PartitionedEventSubscription(
        layout,
        node.partitions.stores,
        node.settings,
      );
      toClose.push(() => subscription.stopAll());
      const consumer = await subscription.consume(
        group,
        async (event) => {
          const list = seen.get(group) ?? [];
          list.push({ member: name, event });
          seen.set(group, list);
        },
        { consumer: name, batchSize: 10 },
      );
      toClose.push(() => consumer.stop());
    };
    await member('billing', 'node-a');
    await member('billing', 'node-b');
    await member('audit', 'node-c');

    const N = 30;
    await Promise.all(
      Array.from({ length: P }, async (_, k) => {
        for (let n = 0; n < N; n++)
          await publisher.publish({
            type: 'spec_event',
            data: { k, n },
            scopes: [scopeOf(k)],
          });
      }),
    );
    const total = N * P;
    await until(
      () =>
        (seen.get('billing')?.length ?? 0) >= total &&
        (seen.get('audit')?.length ?? 0) >= total,
      'both groups to receive every event',
    );
    // Anything delivered twice would arrive now.
    await new Promise((r) => setTimeout(r, 500));
    for (const group of ['billing', 'audit']) {
      const received = seen.get(group)!;
      const keys = received.map(({ event }) => {
        const { k, n } = event.data as { k: number; n: number };
        return `${k}/${n}`;
      });
      expect(keys).toHaveLength(total);
      expect(new Set(keys).size).toBe(total);
      for (const { event } of received)
        expect(parsePartitionedEventId(event.id)?.partition).toBe(
          (event.data as { k: number }).k,
        );
      // Each member handles a partition's events in log order.
      for (const name of new Set(received.map((r) => r.member)))
        for (let k = 0; k < P; k++) {
          const ns = received
            .filter(
              (r) =>
                r.member === name && (r.event.data as { k: number }).k === k,
            )
            .map((r) => (r.event.data as { n: number }).n);
          expect(ns).toEqual([...ns].sort((x, y) => x - y));
        }
    }
  }, 60_000);
});
