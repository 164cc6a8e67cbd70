import { randomUUID } from 'node:crypto';
import {
  ProcessMessage,
  ProcessMessageStore,
  type StoredEvent,
} from '@streamgate/server';
import { waitFor } from '../support/wait-for';
import { ProcessesApp, startProcessesApp } from './support/processes-app';
import { StreamReader } from './support/stream-reader';

jest.setTimeout(30_000);

/**
 * Holds the next `read` of one process at a gate, either after the store
 * answered (the answer is a snapshot from before the gate opens) or before it
 * asked (the answer includes whatever happened while the gate was shut).
 */
class GatedStore implements ProcessMessageStore {
  private gate: {
    processId: string;
    snapshotFirst: boolean;
    open: Promise<void>;
    reached: () => void;
  } | null = null;

  constructor(private readonly inner: ProcessMessageStore) {}

  /** Shuts the gate for the next read of `processId`; resolves `reached` when a read waits at it. */
  shut(
    processId: string,
    snapshotFirst: boolean,
  ): { reached: Promise<void>; open: () => void } {
    let open!: () => void;
    let reached!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
    this.gate = { processId, snapshotFirst, open: opened, reached };
    return { reached: reachedPromise, open };
  }

  async read(
    processId: string,
    options: { after: number; limit: number },
  ): Promise<ProcessMessage[]> {
    const gate = this.gate?.processId === processId ? this.gate : null;
    if (!gate) return this.inner.read(processId, options);
    this.gate = null;
    if (gate.snapshotFirst) {
      const page = await this.inner.read(processId, options);
      gate.reached();
      await gate.open;
      return page;
    }
    gate.reached();
    await gate.open;
    return this.inner.read(processId, options);
  }

  append: ProcessMessageStore['append'] = (...args) =>
    this.inner.append(...args);
  lastSeq: ProcessMessageStore['lastSeq'] = (...args) =>
    this.inner.lastSeq(...args);
  getStatus: ProcessMessageStore['getStatus'] = (...args) =>
    this.inner.getStatus(...args);
  setStatus: ProcessMessageStore['setStatus'] = (...args) =>
    this.inner.setStatus(...args);
  exists: ProcessMessageStore['exists'] = (...args) =>
    this.inner.exists(...args);
  claimAnnouncements: ProcessMessageStore['claimAnnouncements'] = (...args) =>
    this.inner.claimAnnouncements(...args);
  ackAnnouncements: ProcessMessageStore['ackAnnouncements'] = (...args) =>
    this.inner.ackAnnouncements(...args);
  close: ProcessMessageStore['close'] = () => this.inner.close();
}

describe('The handover from history to live delivery', () => {
  let app: ProcessesApp;
  let gated: GatedStore;
  const open: StreamReader[] = [];

  beforeAll(async () => {
    // No heartbeat during a test: the store check it runs would hide a broken handover.
    app = await startProcessesApp({
      store: 'memory',
      heartbeatMs: 60_000,
      wrapStore: (store) => (gated = new GatedStore(store)),
    });
  });

  afterEach(() => {
    for (const stream of open.splice(0)) stream.close();
  });

  afterAll(async () => {
    await app?.close();
  });

  async function stream(id: string): Promise<StreamReader> {
    const reader = await StreamReader.open(
      `${app.url}/processes/${id}/messages`,
      {
        token: app.token('reader', [`process:${id}`]),
      },
    );
    open.push(reader);
    expect(reader.status).toBe(200);
    return reader;
  }

  /** Resolves once this node's hub has dispatched the process_message with that seq. */
  function dispatched(id: string, seq: number): Promise<void> {
    return new Promise((resolve) => {
      const unlisten = app.hub.listen({
        onEvents: (events: readonly StoredEvent[]) => {
          const hit = events.some(
            (e) =>
              e.type === 'process_message' &&
              (e.data as ProcessMessage).processId === id &&
              (e.data as ProcessMessage).seq === seq,
          );
          if (hit) {
            unlisten();
            resolve();
          }
        },
        onDiscontinuity: () => undefined,
      });
    });
  }

  async function withHistory(count: number): Promise<string> {
    const id = `run-${randomUUID()}`;
    for (let i = 0; i < count; i++)
      await app.store.append(id, { type: 't', payload: i });
    return id;
  }

  describe('when a message is published after the history read took its snapshot', () => {
    it('delivers it from the live buffer, exactly once', async () => {
      const id = await withHistory(3);
      const gate = gated.shut(id, true);
      const reader = await stream(id);
      await gate.reached;
      const live = dispatched(id, 4);
      await app.messages.append(id, { type: 't', payload: 'during the read' });
      await live;
      gate.open();
      await reader.untilSeq(4, 3_000);
      await new Promise((r) => setTimeout(r, 50));
      expect(reader.seqs).toEqual([1, 2, 3, 4]);
    });
  });

  describe('when a message is both in the history and in the live buffer', () => {
    it('sends it once, and live delivery continues after it', async () => {
      const id = await withHistory(3);
      const gate = gated.shut(id, false);
      const reader = await stream(id);
      await gate.reached;
      const live = dispatched(id, 4);
      await app.messages.append(id, { type: 't', payload: 'during the read' });
      await live;
      gate.open();
      await reader.untilSeq(4, 3_000);
      await app.messages.append(id, { type: 't', payload: 'after' });
      await reader.untilSeq(5, 3_000);
      await new Promise((r) => setTimeout(r, 50));
      expect(reader.seqs).toEqual([1, 2, 3, 4, 5]);
    });
  });

  describe('when the terminal status arrives before the last messages', () => {
    it('re-reads the store and ends only after every message', async () => {
      const id = await withHistory(2);
      const reader = await stream(id);
      await reader.untilSeq(2);
      // Stored without an event, as if their publishes were still on the way.
      await app.store.append(id, { type: 't', payload: 'late 1' });
      await app.store.append(id, { type: 't', payload: 'late 2' });
      await app.messages.setStatus(id, 'completed');
      await reader.ended;
      expect(reader.seqs).toEqual([1, 2, 3, 4]);
      expect(reader.frames.slice(-2).map((f) => f.event)).toEqual([
        'status',
        'end',
      ]);
    });
  });

  describe('when a live message skips a seq', () => {
    it('fills the gap from the store before sending it', async () => {
      const id = await withHistory(1);
      const reader = await stream(id);
      await reader.untilSeq(1);
      await app.store.append(id, { type: 't', payload: 'never published' });
      await app.messages.append(id, { type: 't', payload: 'published' });
      await reader.untilSeq(3, 3_000);
      expect(reader.seqs).toEqual([1, 2, 3]);
      await waitFor(
        () => app.streams.stats.resyncs > 0,
        'a resync to be counted',
      );
    });
  });
});
