import { EventEmitter } from 'node:events';
import { ServiceUnavailableException } from '@nestjs/common';
import { PartitionLayout } from '../../event-bus/domain/partitions';
import { resolveEventLogSettings } from '../../event-bus/engine/event-log.settings';
import { PartitionedDeliveryHub } from '../../event-bus/hub/partitioned-delivery-hub';
import {
  inMemoryPartitionStores,
  partitionedPublisher,
} from '../../event-bus/partitioned-event-log';
import { InMemoryProcessMessageStore } from '../adapters/in-memory/in-memory.process-message-store';
import { ProcessMessagesService } from '../process-messages.service';
import { resolveProcessesOptions } from '../processes.options';
import type { StreamOutput } from './process-message.stream';
import { SseFormat } from './process-stream.formats';
import { processPartition } from './process-stream-hub';
import { ProcessStreamRouter } from './process-stream.router';
import { ProcessStreamsService } from './process-streams.service';

const settings = resolveEventLogSettings({
  instanceId: 'process-streams-spec',
  blockMs: 20,
});
const P = 8;

class Output extends EventEmitter implements StreamOutput {
  text = '';
  destroyed = false;
  writableEnded = false;
  begun = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  end(): void {
    this.writableEnded = true;
    this.emit('close');
  }
  /** The seqs of the SSE `message` frames, in order. */
  get seqs(): number[] {
    return [...this.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  }
}

const toClose: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of toClose.splice(0).reverse()) await close();
});

function setUp(partitionScope: string) {
  const layout = new PartitionLayout({ partitions: P, partitionScope });
  const memory = inMemoryPartitionStores(layout);
  const internal = partitionedPublisher(memory, settings, {
    reservedTypes: 'allowed',
  });
  const hub = new PartitionedDeliveryHub(
    layout,
    memory.stores,
    settings,
    {},
    {},
    { graceMs: 30 },
  );
  toClose.push(() => hub.stop());
  const store = new InMemoryProcessMessageStore();
  const messages = new ProcessMessagesService(store, internal);
  // A heartbeat far away: only the live path can bring what follows the history.
  const options = resolveProcessesOptions({
    driver: 'memory',
    heartbeatMs: 600_000,
  });
  const router = new ProcessStreamRouter(hub);
  const service = new ProcessStreamsService(
    hub,
    router,
    messages,
    store,
    options,
  );
  toClose.push(async () => service.beforeApplicationShutdown());
  const open = async (processId: string, after = 0) => {
    const output = new Output();
    const stream = await service.open({
      processId,
      after,
      cursorField: after ? 'Last-Event-ID' : 'after',
      format: new SseFormat(1000),
      output,
      begin: () => (output.begun = true),
    });
    return { output, stream };
  };
  const append = (processId: string, n: number) =>
    messages.append(processId, { type: 'text', payload: { n } });
  return { layout, hub, messages, router, service, open, append };
}

/** Process ids whose partitions (under `partitionScope: 'process:'`) differ, none 0. */
function processesOfDistinctPartitions(layout: PartitionLayout, count: number) {
  const found = new Map<number, string>();
  for (let i = 0; found.size < count; i++) {
    const id = `run-${i}`;
    const k = processPartition(layout, id);
    if (k !== 0 && !found.has(k)) found.set(k, id);
  }
  return [...found].map(([partition, id]) => ({ partition, id }));
}

async function until(check: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('process streams on a partitioned log (P = 8)', () => {
  it('puts a process in the partition its scope gives, whatever the partition scope', () => {
    const byProcess = new PartitionLayout({
      partitions: P,
      partitionScope: 'process:',
    });
    expect(processPartition(byProcess, 'run-1')).toBe(
      byProcess.partitionOfKey('process:run-1'),
    );
    // Under another partition scope, the announcements carry none: partition 0.
    const byTenant = new PartitionLayout({
      partitions: P,
      partitionScope: 'tenant:',
    });
    expect(processPartition(byTenant, 'run-1')).toBe(0);
    // Whoever may read the process reads that partition.
    expect(byProcess.partitionsFor(['process:run-1'])).toContain(
      processPartition(byProcess, 'run-1'),
    );
  });

  it('streams history then live with no gap and no duplicate, each stream holding only its process’s partition', async () => {
    const t = setUp('process:');
    const runs = processesOfDistinctPartitions(t.layout, 3);
    for (const run of runs)
      for (let n = 1; n <= 5; n++) await t.append(run.id, n);
    const opened = await Promise.all(runs.map((run) => t.open(run.id)));
    // Interest-based: exactly the processes' partitions are read.
    expect(t.hub.readers.active).toEqual(
      runs.map((run) => run.partition).sort((a, b) => a - b),
    );
    // Live appends, interleaved across processes and partitions, some while
    // the history is still being sent.
    for (let n = 6; n <= 40; n++)
      await Promise.all(runs.map((run) => t.append(run.id, n)));
    for (const run of runs) await t.messages.setStatus(run.id, 'completed');
    await until(
      () => opened.every(({ stream }) => stream.isClosed),
      'every stream to end with its process',
    );
    for (const { output } of opened) {
      expect(output.begun).toBe(true);
      expect(output.seqs).toEqual(range(1, 40));
      expect(output.text).toMatch(/event: end\ndata: {"status":"completed"}/);
    }
    expect(t.router.listenerCount).toBe(0);
    // Holds given back once each: the readers stop after their grace period.
    await until(() => t.hub.readers.active.length === 0, 'the readers to stop');
  });

  it('resumes from Last-Event-ID (the process seq) and then follows live', async () => {
    const t = setUp('process:');
    const [run] = processesOfDistinctPartitions(t.layout, 1);
    for (let n = 1; n <= 12; n++) await t.append(run.id, n);
    const first = await t.open(run.id);
    await until(() => first.output.seqs.length === 12, 'the history');
    first.stream.close();
    const resumed = await t.open(run.id, 9);
    for (let n = 13; n <= 20; n++) await t.append(run.id, n);
    await until(() => resumed.output.seqs.length === 11, 'the live messages');
    expect(resumed.output.seqs).toEqual(range(10, 20));
  });

  it('re-reads the store only for the streams of the partition that lost continuity', async () => {
    const t = setUp('process:');
    const [a, b] = processesOfDistinctPartitions(t.layout, 2);
    await t.append(a.id, 1);
    await t.append(b.id, 1);
    const streamA = await t.open(a.id);
    const streamB = await t.open(b.id);
    await until(
      () =>
        streamA.output.seqs.length === 1 && streamB.output.seqs.length === 1,
      'the histories',
    );
    // The hub's discontinuity of partition a (a reset or trim in it).
    (
      t.hub as unknown as {
        discontinuity(k: number, reason: string, position: string): void;
      }
    ).discontinuity(a.partition, 'trimmed', `${a.partition}:e1:5-0`);
    await until(() => t.service.stats.resyncs === 1, 'the re-read');
    await new Promise((r) => setTimeout(r, 20));
    expect(t.service.stats.resyncs).toBe(1);
    // Still live afterwards, both of them.
    await t.append(a.id, 2);
    await t.append(b.id, 2);
    await until(
      () =>
        streamA.output.seqs.length === 2 && streamB.output.seqs.length === 2,
      'the live messages',
    );
  });

  it('serves processes from partition 0 under another partition scope', async () => {
    const t = setUp('tenant:');
    const { open, append } = t;
    await append('job-a', 1);
    const { output } = await open('job-a');
    expect(t.hub.readers.active).toEqual([0]);
    for (let n = 2; n <= 10; n++) await append('job-a', n);
    await until(() => output.seqs.length === 10, 'the live messages');
    expect(output.seqs).toEqual(range(1, 10));
  });

  it('fails closed when the partition cannot be read: 503 before anything is written, nothing held', async () => {
    const t = setUp('process:');
    const [run] = processesOfDistinctPartitions(t.layout, 1);
    await t.append(run.id, 1);
    await t.hub.readers.close();
    const output = new Output();
    await expect(
      t.service.open({
        processId: run.id,
        after: 0,
        cursorField: 'after',
        format: new SseFormat(1000),
        output,
        begin: () => (output.begun = true),
      }),
    ).rejects.toBeInstanceOf(ServiceUnavailableException);
    expect(output.begun).toBe(false);
    expect(output.text).toBe('');
    expect(t.service.activeStreams).toBe(0);
    expect(t.router.listenerCount).toBe(0);
  });
});
