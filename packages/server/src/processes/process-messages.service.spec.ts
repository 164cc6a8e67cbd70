import { Logger } from '@nestjs/common';
import type { NewEphemeralEvent, NewEvent } from '../event-bus/domain/event';
import type {
  EventPublisher,
  PublishOptions,
} from '../event-bus/domain/event-publisher.port';
import { InMemoryProcessMessageStore } from './adapters/in-memory/in-memory.process-message-store';
import { ProcessAlreadyEndedError } from './domain/process-messages.errors';
import { ProcessMessagesService } from './process-messages.service';
import {
  CursorAheadOfProcessError,
  ProcessNotFoundError,
} from './processes.errors';

/** Records what was published, and what the store held at that moment. */
class FakePublisher implements EventPublisher {
  readonly published: { event: NewEvent; storedSeqAtPublish: number }[] = [];
  /** The idempotency key of every attempt, failed ones included. */
  readonly keys: (string | undefined)[] = [];
  failing = false;

  constructor(private readonly store: InMemoryProcessMessageStore) {}

  publish(event: NewEvent, options?: PublishOptions): Promise<string>;
  publish(event: NewEphemeralEvent): Promise<null>;
  async publish(
    event: NewEvent | NewEphemeralEvent,
    options?: PublishOptions,
  ): Promise<string | null> {
    this.keys.push(options?.idempotencyKey);
    if (this.failing) throw new Error('bus down');
    const processId = (event.data as { processId: string }).processId;
    this.published.push({
      event: event as NewEvent,
      storedSeqAtPublish: await this.store.lastSeq(processId),
    });
    return `${this.published.length}-0`;
  }

  publishMany(events: readonly NewEvent[]): Promise<string[]>;
  publishMany(events: readonly NewEphemeralEvent[]): Promise<null[]>;
  async publishMany(
    events: readonly (NewEvent | NewEphemeralEvent)[],
  ): Promise<(string | null)[]> {
    return Promise.all(events.map((e) => this.publish(e as NewEvent)));
  }
}

describe('ProcessMessagesService', () => {
  let store: InMemoryProcessMessageStore;
  let publisher: FakePublisher;
  let service: ProcessMessagesService;
  let errors: jest.SpyInstance;

  beforeEach(() => {
    store = new InMemoryProcessMessageStore();
    publisher = new FakePublisher(store);
    service = new ProcessMessagesService(store, publisher, {
      intervalMs: 20,
      graceMs: 50,
      leaseMs: 200,
    });
    errors = jest
      .spyOn(Logger.prototype, 'error')
      .mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterEach(() => jest.restoreAllMocks());

  describe('when a message is appended', () => {
    it('stores it first, then publishes it to process:<id>', async () => {
      const stored = await service.append('run-1', {
        type: 'text',
        payload: 'hi',
      });
      expect(publisher.published).toEqual([
        {
          event: {
            type: 'process_message',
            data: stored,
            scopes: ['process:run-1'],
          },
          storedSeqAtPublish: 1,
        },
      ]);
    });

    it('publishes nothing when the store refuses', async () => {
      await store.setStatus('run-1', 'completed');
      await expect(
        service.append('run-1', { type: 't', payload: null }),
      ).rejects.toBeInstanceOf(ProcessAlreadyEndedError);
      expect(publisher.published).toEqual([]);
    });
  });

  describe('when the bus cannot publish', () => {
    it('still succeeds, counts every failure and logs once until publishing works again', async () => {
      publisher.failing = true;
      await service.append('run-1', { type: 't', payload: 1 });
      await service.setStatus('run-1', 'running');
      expect(await store.lastSeq('run-1')).toBe(1);
      expect(service.publishFailures).toBe(2);
      expect(errors).toHaveBeenCalledTimes(1);
      publisher.failing = false;
      await service.append('run-1', { type: 't', payload: 2 });
      publisher.failing = true;
      await service.append('run-1', { type: 't', payload: 3 });
      expect(service.publishFailures).toBe(3);
      expect(errors).toHaveBeenCalledTimes(2);
    });
  });

  describe('when the bus refuses an announcement', () => {
    beforeEach(() => service.onApplicationBootstrap());
    afterEach(() => service.beforeApplicationShutdown());

    it('relays it from the outbox under the same idempotency key once the bus takes it', async () => {
      publisher.failing = true;
      const stored = await service.append('run-1', { type: 't', payload: 1 });
      await service.setStatus('run-1', 'completed');
      expect(publisher.published).toEqual([]);
      const firstKeys = [...publisher.keys];
      expect(new Set(firstKeys).size).toBe(2);
      publisher.failing = false;
      const deadline = Date.now() + 5_000;
      while (publisher.published.length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(publisher.published.map((p) => p.event)).toEqual([
        { type: 'process_message', data: stored, scopes: ['process:run-1'] },
        {
          type: 'process_status',
          data: { processId: 'run-1', status: 'completed', previous: null },
          scopes: ['process:run-1'],
        },
      ]);
      expect(publisher.keys.slice(-2)).toEqual(firstKeys);
      expect(
        await store.claimAnnouncements({ limit: 10, graceMs: 0, leaseMs: 0 }),
      ).toEqual([]);
    });
  });

  describe('when the writer dies before its announcement', () => {
    beforeEach(() => service.onApplicationBootstrap());
    afterEach(() => service.beforeApplicationShutdown());

    it('is published by the relay of another node on the same store', async () => {
      // The writer: its store write succeeds, then it is gone.
      await store.append('run-1', { type: 't', payload: 'orphan' });
      await store.setStatus('run-1', 'completed');
      const deadline = Date.now() + 5_000;
      while (publisher.published.length < 2 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(publisher.published.map((p) => p.event.type)).toEqual([
        'process_message',
        'process_status',
      ]);
      expect(publisher.keys).toEqual([
        'process-message:run-1:1',
        'process-status:run-1:completed',
      ]);
    });
  });

  describe('when a message is malformed', () => {
    it('rejects it naming the field, before the store is asked', async () => {
      const append = jest.spyOn(store, 'append');
      await expect(
        service.append('run-1', { type: '', payload: 1 }),
      ).rejects.toMatchObject({ field: 'type' });
      await expect(
        service.append('bad id', { type: 't', payload: 1 }),
      ).rejects.toMatchObject({ field: 'processId' });
      await expect(
        service.append(
          'run-1',
          { type: 't', payload: 1 },
          { idempotencyKey: 'a b' },
        ),
      ).rejects.toMatchObject({ field: 'idempotencyKey' });
      await expect(
        service.setStatus('run-1', 'paused' as never),
      ).rejects.toMatchObject({ field: 'status' });
      expect(append).not.toHaveBeenCalled();
    });
  });

  describe('when the status is set', () => {
    it('publishes the change with the previous status', async () => {
      expect(await service.setStatus('run-1', 'running')).toEqual({
        status: 'running',
        previous: null,
      });
      expect(publisher.published[0].event).toEqual({
        type: 'process_status',
        data: { processId: 'run-1', status: 'running', previous: null },
        scopes: ['process:run-1'],
      });
    });

    it('publishes nothing when the status does not change', async () => {
      await service.setStatus('run-1', 'running');
      expect(await service.setStatus('run-1', 'running')).toEqual({
        status: 'running',
        previous: 'running',
      });
      expect(publisher.published).toHaveLength(1);
    });
  });

  describe('when a page is read', () => {
    it('rejects an unknown process and a cursor past the newest message', async () => {
      await expect(service.page('nobody', 0, 10)).rejects.toBeInstanceOf(
        ProcessNotFoundError,
      );
      await service.append('run-1', { type: 't', payload: 1 });
      const error = await service.page('run-1', 2, 10).catch((e) => e);
      expect(error).toBeInstanceOf(CursorAheadOfProcessError);
      expect(error.field).toBe('after');
      expect(await service.page('run-1', 1, 10)).toEqual({
        messages: [],
        nextAfter: 1,
        status: null,
      });
    });
  });
});
